//! ipagate-asc (being written).
#![deny(missing_docs)]
