//! The runtime role: the service's connections act as it, migrations as the owner.

use crate::helpers::platform;

#[tokio::test]
async fn a_service_with_a_runtime_role_acts_as_it_and_only_holds_what_it_was_granted() {
    let owner = platform("role_owner", &[]).await;
    // The role is cluster-wide: created once, by whichever test run gets there first.
    sqlx::query(
        "DO $$ BEGIN CREATE ROLE platform_test_runtime NOLOGIN; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
    )
    .execute(&owner.platform.pool)
    .await
    .expect("role");
    for sql in [
        "CREATE TABLE ledger (id BIGSERIAL PRIMARY KEY, note TEXT NOT NULL)",
        "GRANT SELECT, INSERT ON ledger TO platform_test_runtime",
        "GRANT USAGE ON SEQUENCE ledger_id_seq TO platform_test_runtime",
    ] {
        sqlx::query(sql).execute(&owner.platform.pool).await.expect(sql);
    }
    let url = owner.settings.database.url.clone();
    let runtime = platform(
        "role_runtime",
        &[
            ("DATABASE__URL", secrecy::ExposeSecret::expose_secret(&url)),
            ("DATABASE__RUNTIME_ROLE", "platform_test_runtime"),
        ],
    )
    .await;
    let who: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&runtime.platform.pool)
        .await
        .expect("who");
    assert_eq!(who, "platform_test_runtime");
    sqlx::query("INSERT INTO ledger (note) VALUES ('kept')")
        .execute(&runtime.platform.pool)
        .await
        .expect("insert is granted");
    let update = sqlx::query("UPDATE ledger SET note = 'rewritten'")
        .execute(&runtime.platform.pool)
        .await
        .expect_err("update is not granted");
    assert!(update.to_string().contains("permission denied"), "{update}");
    let note: String = sqlx::query_scalar("SELECT note FROM ledger")
        .fetch_one(&owner.platform.pool)
        .await
        .expect("note");
    assert_eq!(note, "kept");
}
