//! ipagate-bumper (being written).
#![deny(missing_docs)]
