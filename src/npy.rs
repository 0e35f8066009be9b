//! Minimal .npy / .npz reading and writing (the formats numpy reads).
