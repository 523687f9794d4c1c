#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H
/* OpenBLAS's cblas (the pthread build on Debian); openblas_set_num_threads is declared here too. */
#include <cblas.h>
#endif
