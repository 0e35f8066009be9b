//! KMNIST data: readers (IDX, npz), download + md5 verification, downsampling.
