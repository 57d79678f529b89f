//! ipagate-rules (being written).
#![deny(missing_docs)]
