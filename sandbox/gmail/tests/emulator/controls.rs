//! The kit's control surface works for the Gmail emulator: the same test the Outlook emulator
//! runs (`sandbox_kit::conformance`).

use sandbox_gmail::{GmailSandbox, SandboxConfig};
use sandbox_kit::conformance::{control_surface, Probe};

#[tokio::test]
async fn every_control_of_the_kit_works_for_gmail() {
    let sb = GmailSandbox::start(SandboxConfig {
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    let probe = Probe {
        path: "/gmail/v1/users/me/profile",
        scopes: &["gmail.readonly"],
    };
    control_surface(&sb, &probe).await;
}
