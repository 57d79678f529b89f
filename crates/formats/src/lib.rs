//! ipagate-formats (being written).
#![deny(missing_docs)]
