//! Token lifecycle across server replicas (issue 8): one refresh per stampede across servers,
//! rotated refresh tokens never lost, a killed lock holder, health checks, signed status
//! webhooks, the credential endpoint.

mod in_process;
mod issuer;
mod replicas;
mod support;
