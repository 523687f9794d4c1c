#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H
#include <hdf5.h>
#include <hdf5_hl.h>

#ifndef H5_HAVE_PARALLEL
#error "CHDF5 needs a parallel HDF5 build (pkg-config hdf5-openmpi)"
#endif

/* HDF5's predefined ids are macros such as (H5open(), H5T_NATIVE_DOUBLE_g), which Swift
   cannot import. These accessors expose them; nothing else lives here. */
static inline hid_t    chdf5_p_default(void)         { return H5P_DEFAULT; }
static inline hid_t    chdf5_s_all(void)             { return H5S_ALL; }
static inline hid_t    chdf5_p_file_access(void)     { return H5P_FILE_ACCESS; }
static inline hid_t    chdf5_p_file_create(void)     { return H5P_FILE_CREATE; }
static inline hid_t    chdf5_p_dataset_create(void)  { return H5P_DATASET_CREATE; }
static inline hid_t    chdf5_p_dataset_xfer(void)    { return H5P_DATASET_XFER; }
static inline hid_t    chdf5_p_group_create(void)    { return H5P_GROUP_CREATE; }
static inline hid_t    chdf5_p_link_create(void)     { return H5P_LINK_CREATE; }
static inline hid_t    chdf5_t_native_double(void)   { return H5T_NATIVE_DOUBLE; }
static inline hid_t    chdf5_t_native_int64(void)    { return H5T_NATIVE_INT64; }
static inline hid_t    chdf5_t_native_int32(void)    { return H5T_NATIVE_INT32; }
static inline hid_t    chdf5_t_native_int8(void)     { return H5T_NATIVE_INT8; }
static inline hid_t    chdf5_t_ieee_f64le(void)      { return H5T_IEEE_F64LE; }
static inline hid_t    chdf5_t_std_i64le(void)       { return H5T_STD_I64LE; }
static inline hid_t    chdf5_t_std_i8le(void)        { return H5T_STD_I8LE; }
static inline hid_t    chdf5_t_c_s1(void)            { return H5T_C_S1; }
static inline unsigned chdf5_f_acc_trunc(void)       { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_f_acc_excl(void)        { return H5F_ACC_EXCL; }
static inline unsigned chdf5_f_acc_rdwr(void)        { return H5F_ACC_RDWR; }
static inline unsigned chdf5_f_acc_rdonly(void)      { return H5F_ACC_RDONLY; }
static inline size_t   chdf5_variable(void)          { return H5T_VARIABLE; }
static inline hsize_t  chdf5_unlimited(void)         { return H5S_UNLIMITED; }
static inline unsigned chdf5_obj_all(void)           { return H5F_OBJ_ALL; }

static inline hid_t    chdf5_e_default(void)         { return H5E_DEFAULT; }

/* Silence HDF5's automatic error-stack printing; errors are reported by the Swift wrapper. */
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
#endif
