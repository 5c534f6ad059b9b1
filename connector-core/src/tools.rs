//! Tool definitions from a spec. SKELETON.
