//! ipagate-asc-emulator (being written).
#![deny(missing_docs)]
