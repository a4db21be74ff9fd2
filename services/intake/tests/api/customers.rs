//! Customer profiles and history.

use platform::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{act, app, open, open_new};

#[tokio::test]
async fn the_company_upserts_a_profile_and_new_tickets_carry_its_role_and_segments() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let service = testkit::service_token(Uuid::new_v4(), &["customers:write"]);
    let profile = json!({
        "display_name": "王女士", "role": "parent", "segments": ["vip", "new_user"],
        "education_level": "k12", "time_zone": "Asia/Shanghai",
        "contacts": [{"channel": "email", "address": "Wang@Example.com"}, {"channel": "phone", "address": "+86 138 0000 0000"}]
    });
    let path = format!("/v1/customers/{customer}");
    let (status, created) = app.put_json(&path, &service, &profile).await;
    assert_eq!(status, 201);
    assert_eq!(created["segments"], json!(["new_user", "vip"]));
    assert_eq!(created["contacts"][0]["address"], "wang@example.com");
    let body = json!({"role": "parent", "segments": ["vip"], "contacts": [{"channel": "email", "address": "wang@example.com"}]});
    let (again, _) = app.put_json(&path, &service, &body).await;
    assert_eq!(again, 200, "a second put replaces");
    assert_eq!(app.count("SELECT count(*) FROM customer_contact").await, 1);

    // Another customer cannot take the address; bad fields are named; customers cannot write.
    let body = json!({"role": "student", "contacts": [{"channel": "email", "address": "WANG@example.com"}]});
    let (taken, _) = app
        .put_json(&format!("/v1/customers/{}", Uuid::new_v4()), &service, &body)
        .await;
    assert_eq!(taken, 409);
    let body = json!({"role": "alien", "time_zone": "Nowhere/Land"});
    let (bad, _) = app
        .put_json(&format!("/v1/customers/{}", Uuid::new_v4()), &service, &body)
        .await;
    assert_eq!(bad, 422);
    let me = app.token(customer, Role::Customer);
    let (self_write, _) = app.put_json(&path, &me, &profile).await;
    assert_eq!(self_write, 403);
    assert_eq!(app.count("SELECT count(*) FROM customer").await, 1);

    let ticket = open(&app, &me, "课程咨询", "请问寒假班什么时候开课？").await;
    assert_eq!(ticket["customer_role"], "parent");
    assert_eq!(ticket["customer_segments"], json!(["vip"]));
    let event: Value =
        sqlx::query_scalar("SELECT envelope FROM outbox_event WHERE event_type = 'intake.ticket.created'")
            .fetch_one(&app.platform.pool)
            .await
            .expect("event");
    assert_eq!(event["data"]["customer_segments"], json!(["vip"]));
    assert_eq!(event["data"]["status"], "queued");

    let mine: Value = app.get_json(&format!("/v1/customers/{customer}"), &me).await;
    assert_eq!(mine["role"], "parent");
    let (other, _) = app.get_status(&path, &app.token(Uuid::new_v4(), Role::Customer)).await;
    assert_eq!(other, 404);
}

#[tokio::test]
async fn a_customers_history_lists_every_ticket_with_counts_and_pages() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let subjects = ["退费进度", "作业批改", "直播课卡顿"];
    let mut ids = Vec::new();
    for s in subjects {
        ids.push(open(&app, &me, s, &format!("{s}，请帮忙看看")).await["id"].clone());
    }
    let (cancel, _) = act(&app, &me, ids[0].as_str().expect("id"), "cancel").await;
    assert_eq!(cancel, 200);
    open_new(&app, "其他人", "别人的工单").await;

    let page: Value = app
        .get_json(&format!("/v1/customers/{customer}/tickets?limit=2"), &agent)
        .await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["open"], 2);
    assert_eq!(page["by_status"]["cancelled"], 1);
    let first: Vec<Value> = page["tickets"]["items"].as_array().expect("items").clone();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0]["id"], ids[2], "newest first");
    let cursor = page["tickets"]["next_cursor"].as_str().expect("cursor");
    let rest: Value = app
        .get_json(
            &format!("/v1/customers/{customer}/tickets?limit=2&cursor={cursor}"),
            &me,
        )
        .await;
    assert_eq!(rest["tickets"]["items"][0]["id"], ids[0]);
    assert!(rest["tickets"]["next_cursor"].is_null());
    let (snoop, _) = app
        .get_status(
            &format!("/v1/customers/{customer}/tickets"),
            &app.token(Uuid::new_v4(), Role::Customer),
        )
        .await;
    assert_eq!(snoop, 404);
    // A customer listing tickets sees only their own, whatever they ask for.
    let listed: Value = app.get_json("/v1/tickets?limit=100", &me).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(3));
}
