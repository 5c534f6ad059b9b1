//! Attachment handles: scoped to their organization, expiring, counted, swept.

use server::store::attachments::HandleRow;
use server::store::Store;

use super::fixtures::org;

fn handle(id: &str, org: &str, size: i64, expires_at_ms: i64) -> HandleRow {
    HandleRow {
        id: id.to_string(),
        organization_id: org.to_string(),
        filename: "f.bin".into(),
        mime_type: "application/octet-stream".into(),
        size,
        sha256: "00".into(),
        source: "upload".into(),
        created_at_ms: 0,
        expires_at_ms,
    }
}

both_backends! {
    async fn handles_are_scoped_counted_expired_and_swept(store: Store) {
        let acme = org(&store, "acme").await;
        let other = org(&store, "other").await;
        // A large sealed body goes in and comes out whole.
        let big = vec![5u8; 3 * 1024 * 1024];
        store.insert_attachment_handle(&handle("att_a", &acme.id, 3, 2_000), &big).await.unwrap();
        store.insert_attachment_handle(&handle("att_b", &acme.id, 40, 1_000), b"b").await.unwrap();
        store.insert_attachment_handle(&handle("att_c", &other.id, 500, 2_000), b"c").await.unwrap();
        let (row, content) = store.attachment_handle(&acme.id, "att_a", 500).await.unwrap().unwrap();
        assert_eq!((row.size, content.len()), (3, big.len()));
        assert!(store.attachment_handle(&other.id, "att_a", 500).await.unwrap().is_none());
        assert_eq!(store.attachment_bytes(&acme.id, 500).await.unwrap(), 43);
        // att_b expired at 1000: not read, not counted, swept.
        assert!(store.attachment_handle(&acme.id, "att_b", 1_000).await.unwrap().is_none());
        assert_eq!(store.attachment_bytes(&acme.id, 1_000).await.unwrap(), 3);
        assert_eq!(store.sweep_attachment_handles(1_000).await.unwrap(), 1);
        assert!(!store.delete_attachment_handle(&other.id, "att_a").await.unwrap());
        assert!(store.delete_attachment_handle(&acme.id, "att_a").await.unwrap());
        assert_eq!(store.attachment_bytes(&acme.id, 500).await.unwrap(), 0);
        assert_eq!(store.attachment_bytes(&other.id, 500).await.unwrap(), 500);
    }
}
