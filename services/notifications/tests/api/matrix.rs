//! Who may call what: every route against every kind of caller (from the OpenAPI document's
//! declarations), records that belong to someone, and each scope a service needs.

use chrono::Utc;
use platform::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};
use testkit::TestApp;
use testkit::matrix::{Owned, check_every_route, check_owned};
use uuid::Uuid;

use crate::app;

/// Every scope notifications' routes name.
const SCOPES: [&str; 7] = [
    "notifications:send",
    "notifications:urgent",
    "notifications:config-read",
    "webhooks:manage",
    "recipients:read",
    "recipients:write",
    "deliveries:read",
];

/// A public address (an IP literal, so no lookup) that no test event reaches.
const PUBLIC_HOOK: &str = "https://1.1.1.1/hooks";

/// Sends `body` (when given) with `method` to `path` as the holder of `token`: the status and
/// the JSON body (`null` when there is none).
async fn call(app: &TestApp, method: &Method, path: &str, body: Option<&Value>, token: &str) -> (u16, Value) {
    let mut req = app
        .client
        .request(method.clone(), format!("{}{path}", app.url))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(body);
    }
    let res = req.send().await.expect("sent");
    let status = res.status().as_u16();
    let text = res.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Calls `path` as a service without scopes and as one holding every scope but `scope` (both
/// must be refused with a 403 naming `scope`), then as a service holding only `scope`: its
/// answer.
async fn scoped(app: &TestApp, scope: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let others: Vec<&str> = SCOPES.iter().copied().filter(|s| *s != scope).collect();
    for (who, token) in [
        ("a service without scopes", testkit::service_token(Uuid::new_v4(), &[])),
        (
            "a service with every other scope",
            testkit::service_token(Uuid::new_v4(), &others),
        ),
    ] {
        let (status, problem) = call(app, &method, path, body.as_ref(), &token).await;
        assert_eq!(status, 403, "{method} {path} as {who}: {problem}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains(scope)),
            "{method} {path}: the refusal names {scope}: {problem}"
        );
    }
    let token = testkit::service_token(Uuid::new_v4(), &[scope]);
    call(app, &method, path, body.as_ref(), &token).await
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// A direct send of the saved `ticket_received` message to `who` in the inbox, `send_at` when
/// given.
fn ticket_received(who: Uuid, send_at: Option<chrono::DateTime<Utc>>) -> Value {
    let mut body = json!({"recipient_id": who, "notification": "ticket_received", "channels": ["in_app"],
        "data": {"ticket_id": Uuid::now_v7()}});
    if let Some(at) = send_at {
        body["send_at"] = json!(at);
    }
    body
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_its_declaration_says() {
    let app = app().await;
    let calls = check_every_route(&app).await;
    // 23 operations of notifications' own and 4 of the kernel's, each without a token and as 6
    // roles, staff with 4 functions and a service with each of the 6 scopes declarations name
    // (`notifications:urgent` is checked by the send itself).
    assert!(calls >= 27 * (1 + 6 + 4 + (SCOPES.len() - 1)), "only {calls} calls");
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn a_persons_messages_and_preferences_answer_them_and_are_a_404_to_another() {
    let app = app().await;
    let owner = Uuid::new_v4();
    let a = app.token(owner, Role::Customer);
    let b = app.token(Uuid::new_v4(), Role::Customer);
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let (status, sent) = app
        .post_json("/v1/messages", &admin, &ticket_received(owner, None))
        .await;
    assert_eq!(status, 202, "{sent}");
    let delivery = id_of(&sent["deliveries"][0]);
    let prefs = json!({"email": "owner@example.com", "locale": "en"});
    let (status, body) = app.put_json(&format!("/v1/recipients/{owner}"), &a, &prefs).await;
    assert_eq!(status, 200, "{body}");
    let case = |method: Method, path: String, body: Option<Value>| Owned {
        method,
        path,
        body,
        owner: &a,
        stranger: &b,
    };
    check_owned(
        &app,
        &[
            case(Method::GET, format!("/v1/deliveries/{delivery}"), None),
            case(Method::POST, format!("/v1/inbox/{delivery}/read"), None),
            case(Method::GET, format!("/v1/recipients/{owner}"), None),
            case(
                Method::PUT,
                format!("/v1/recipients/{owner}"),
                Some(json!({"email": "owner@example.com", "locale": "zh-CN"})),
            ),
        ],
    )
    .await;
    // The stranger changed nothing and sees nothing of the owner's.
    let mine = app.get_json(&format!("/v1/recipients/{owner}"), &a).await;
    assert_eq!(mine["locale"], "zh-CN", "{mine}");
    let theirs = app.get_json("/v1/inbox", &b).await;
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(0), "{theirs}");
    // Supervisors no longer read other people's deliveries (M16).
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let (status, _) = app.get_status(&format!("/v1/deliveries/{delivery}"), &supervisor).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_services_sends_and_endpoints_answer_it_and_are_a_404_to_another_service() {
    let app = app().await;
    let sender_a = testkit::service_token(Uuid::new_v4(), &["notifications:send"]);
    let sender_b = testkit::service_token(Uuid::new_v4(), &["notifications:send"]);
    let later = Utc::now() + chrono::Duration::days(1);
    let (status, sent) = app
        .post_json("/v1/messages", &sender_a, &ticket_received(Uuid::new_v4(), Some(later)))
        .await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["deliveries"][0]["status"], "pending");
    let send = id_of(&sent);
    let hooks_a = testkit::service_token(Uuid::new_v4(), &["webhooks:manage"]);
    let hooks_b = testkit::service_token(Uuid::new_v4(), &["webhooks:manage"]);
    let endpoint = json!({"url": PUBLIC_HOOK, "event_types": ["refund.*", "routing.sla.breached"]});
    let (status, created) = app.post_json("/v1/webhook-endpoints", &hooks_a, &endpoint).await;
    assert_eq!(status, 201, "{created}");
    let endpoint_id = id_of(&created);
    let sends = |method: Method, path: String| Owned {
        method,
        path,
        body: None,
        owner: &sender_a,
        stranger: &sender_b,
    };
    check_owned(
        &app,
        &[
            sends(Method::GET, format!("/v1/messages/{send}")),
            // Last of the send's: the owner's cancel succeeds.
            sends(Method::DELETE, format!("/v1/messages/{send}")),
            Owned {
                method: Method::GET,
                path: format!("/v1/webhook-endpoints/{endpoint_id}"),
                body: None,
                owner: &hooks_a,
                stranger: &hooks_b,
            },
        ],
    )
    .await;
    // Each service's list holds only its own endpoints; an admin's holds every one.
    let listed = |token: String| {
        let app = &app;
        async move {
            let list = app.get_json("/v1/webhook-endpoints", &token).await;
            list["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(id_of)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(hooks_a.clone()).await, vec![endpoint_id.clone()]);
    assert!(listed(hooks_b.clone()).await.is_empty());
    assert_eq!(
        listed(app.token(Uuid::new_v4(), Role::Admin)).await,
        vec![endpoint_id.clone()]
    );
    // An admin reads and cancels anyone's send; the stranger cancelled nothing.
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let got = app.get_json(&format!("/v1/messages/{send}"), &admin).await;
    assert_eq!(got["deliveries"][0]["status"], "cancelled", "{got}");
}

#[tokio::test]
async fn a_service_sends_with_notifications_send_and_urgently_only_with_notifications_urgent() {
    let app = app().await;
    let who = Uuid::new_v4();
    let (status, sent) = scoped(
        &app,
        "notifications:send",
        Method::POST,
        "/v1/messages",
        Some(ticket_received(who, None)),
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    let mut urgent = ticket_received(who, None);
    urgent["urgency"] = json!("urgent");
    // Urgent messages pass opt-outs and quiet hours: the sending scope alone is not enough.
    let sender = testkit::service_token(Uuid::new_v4(), &["notifications:send"]);
    let (status, problem) = app.post_json("/v1/messages", &sender, &urgent).await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("notifications:urgent")),
        "{problem}"
    );
    let only_urgent = testkit::service_token(Uuid::new_v4(), &["notifications:urgent"]);
    assert_eq!(app.post_json("/v1/messages", &only_urgent, &urgent).await.0, 403);
    let urgent_sender = testkit::service_token(Uuid::new_v4(), &["notifications:send", "notifications:urgent"]);
    let (status, body) = app.post_json("/v1/messages", &urgent_sender, &urgent).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["deliveries"][0]["urgency"], "urgent");
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    assert_eq!(app.post_json("/v1/messages", &admin, &urgent).await.0, 202);
    // Reading and cancelling a send take the same scope.
    let id = id_of(&sent);
    let reader = testkit::service_token(Uuid::new_v4(), &["deliveries:read"]);
    assert_eq!(app.get_status(&format!("/v1/messages/{id}"), &reader).await.0, 403);
    assert_eq!(app.delete_json(&format!("/v1/messages/{id}"), &reader).await.0, 403);
    assert_eq!(app.get_status(&format!("/v1/messages/{id}"), &admin).await.0, 200);
}

#[tokio::test]
async fn a_service_subscribes_with_webhooks_manage_but_not_to_personal_data_and_changes_nothing_else() {
    let app = app().await;
    let endpoint = json!({"url": PUBLIC_HOOK, "event_types": ["routing.*"]});
    let (status, created) = scoped(
        &app,
        "webhooks:manage",
        Method::POST,
        "/v1/webhook-endpoints",
        Some(endpoint),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = id_of(&created);
    let (status, _) = scoped(&app, "webhooks:manage", Method::GET, "/v1/webhook-endpoints", None).await;
    assert_eq!(status, 200);
    let service = testkit::service_token(Uuid::new_v4(), &["webhooks:manage"]);
    for types in [
        json!(["*"]),
        json!(["intake.*"]),
        json!(["intake.survey.requested"]),
        json!(["routing.*", "intake.survey.*"]),
        json!(["intake.ticket.created"]),
    ] {
        let pii = json!({"url": PUBLIC_HOOK, "event_types": types});
        let (status, problem) = app.post_json("/v1/webhook-endpoints", &service, &pii).await;
        assert_eq!(status, 403, "{types}: {problem}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains("personal data")),
            "{problem}"
        );
    }
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let surveys = json!({"url": PUBLIC_HOOK, "event_types": ["intake.survey.*"]});
    assert_eq!(app.post_json("/v1/webhook-endpoints", &admin, &surveys).await.0, 201);
    // Changing, deleting and rotating stay an admin's, even for the service's own endpoint.
    let owner = testkit::service_token(
        created["owner_id"].as_str().expect("owner").parse().expect("uuid"),
        &SCOPES,
    );
    let path = format!("/v1/webhook-endpoints/{id}");
    let change = json!({"url": PUBLIC_HOOK, "event_types": ["routing.sla.*"]});
    assert_eq!(app.put_json(&path, &owner, &change).await.0, 403);
    assert_eq!(app.delete_json(&path, &owner).await.0, 403);
    let rotate = format!("{path}/rotate-secret");
    assert_eq!(app.post_json(&rotate, &owner, &json!({})).await.0, 403);
    assert_eq!(app.put_json(&path, &admin, &change).await.0, 200);
    assert_eq!(app.delete_json(&path, &admin).await.0, 204);
}

#[tokio::test]
async fn a_service_reads_preferences_with_recipients_read_and_sets_them_with_recipients_write() {
    let app = app().await;
    let who = Uuid::new_v4();
    let path = format!("/v1/recipients/{who}");
    let prefs = json!({"email": "crm@example.com", "opt_outs": ["progress:email"]});
    let (status, body) = scoped(&app, "recipients:write", Method::PUT, &path, Some(prefs)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = scoped(&app, "recipients:read", Method::GET, &path, None).await;
    assert_eq!(
        (status, body["email"].as_str()),
        (200, Some("crm@example.com")),
        "{body}"
    );
    // The person still manages their own, and an admin anyone's.
    let me = app.token(who, Role::Customer);
    assert_eq!(app.get_status(&path, &me).await.0, 200);
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    assert_eq!(app.put_json(&path, &admin, &json!({"locale": "en"})).await.0, 200);
}

#[tokio::test]
async fn the_delivery_log_is_for_admins_and_services_with_deliveries_read() {
    let app = app().await;
    let who = Uuid::new_v4();
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let (status, sent) = app.post_json("/v1/messages", &admin, &ticket_received(who, None)).await;
    assert_eq!(status, 202, "{sent}");
    let delivery = id_of(&sent["deliveries"][0]);
    let (status, log) = scoped(
        &app,
        "deliveries:read",
        Method::GET,
        &format!("/v1/deliveries?recipient_id={who}"),
        None,
    )
    .await;
    assert_eq!((status, log["items"].as_array().map(Vec::len)), (200, Some(1)), "{log}");
    let (status, detail) = scoped(
        &app,
        "deliveries:read",
        Method::GET,
        &format!("/v1/deliveries/{delivery}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    assert!(detail["body"].is_string());
    // Supervisors read their own deliveries only (M16); the recipient reads theirs.
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    assert_eq!(app.get_status("/v1/deliveries", &supervisor).await.0, 403);
    let recipient = app.token(who, Role::Customer);
    assert_eq!(
        app.get_status(&format!("/v1/deliveries/{delivery}"), &recipient)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn rules_and_templates_are_read_with_notifications_config_read_and_previewed_by_admins() {
    let app = app().await;
    let (status, rules) = scoped(&app, "notifications:config-read", Method::GET, "/v1/rules", None).await;
    assert_eq!(status, 200, "{rules}");
    assert!(rules["items"].as_array().is_some_and(|r| !r.is_empty()), "{rules}");
    let (status, templates) = scoped(
        &app,
        "notifications:config-read",
        Method::GET,
        "/v1/templates/ticket_received",
        None,
    )
    .await;
    assert_eq!(status, 200, "{templates}");
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    assert_eq!(app.get_status("/v1/rules", &supervisor).await.0, 200);
    // A preview renders any data into any template: admins only.
    let preview = json!({"notification": "ticket_received", "channel": "in_app", "locale": "en",
        "data": {"ticket_id": "0190f2a1-7c3b-7def-8123-456789abcdef"}});
    let reader = testkit::service_token(Uuid::new_v4(), &SCOPES);
    for token in [&supervisor, &reader] {
        assert_eq!(app.post_json("/v1/templates/preview", token, &preview).await.0, 403);
    }
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let (status, rendered) = app.post_json("/v1/templates/preview", &admin, &preview).await;
    assert_eq!(status, 200, "{rendered}");
    // Changing rules and templates stays an admin's.
    let rule = json!({"event_type": "refund.request.approved", "recipient": "/customer_id",
        "notification": "refund_approved", "channels": ["in_app"], "category": "refund", "urgency": "normal"});
    assert_eq!(app.put_json("/v1/rules/refund-approved", &reader, &rule).await.0, 403);
    assert_eq!(app.put_json("/v1/rules/refund-approved", &admin, &rule).await.0, 201);
}
