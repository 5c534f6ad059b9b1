//! The server under hostile traffic (issue 19): what a stranger may cost (token endpoint,
//! stalled bodies, connections), bounded error sizes, strict bodies, wrong methods, the data
//! directory and its files, the last admin application.

mod bodies;
mod connections;
mod files;
mod load;
mod methods;
mod tokens;
