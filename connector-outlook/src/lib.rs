//! Outlook mail on Microsoft Graph v1.0.

#[cfg(feature = "sandbox")]
pub mod sandbox;
