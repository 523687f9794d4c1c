#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H
/* Counts calls to the C allocator while counting is on. Linking this target into an
   executable replaces malloc and friends for the whole process (the executable's definitions
   take precedence over libc's); the real work is done by glibc's __libc_* entry points. */
void allocation_counter_start(void);
long allocation_counter_stop(void);
#endif
