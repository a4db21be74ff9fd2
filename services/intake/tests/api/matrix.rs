//! Who may call what: every route against every kind of caller (from the OpenAPI document's
//! declarations), records that belong to a customer, and each scope a service needs.

use platform::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};
use testkit::TestApp;
use testkit::matrix::{Owned, check_every_route, check_owned};
use uuid::Uuid;

use super::{app, open};

/// Every scope intake's routes name.
const SCOPES: [&str; 8] = [
    "tickets:read",
    "tickets:write",
    "customers:read",
    "customers:write",
    "email:inbound",
    "kb:read",
    "incidents:read",
    "incidents:write",
];

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

/// A knowledge-base article that answers "忘记密码怎么重置" (written by an agent).
async fn password_article(app: &TestApp) -> Value {
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let body = json!({"title": "忘记密码怎么重置", "body": "在登录页点击“忘记密码”，输入注册手机号，收到验证码后设置新密码即可。",
        "language": "zh-CN", "category": "other", "tags": ["faq"]});
    let (status, article) = app.post_json("/v1/kb/articles", &agent, &body).await;
    assert_eq!(status, 201, "{article}");
    article
}

/// A ticket of the holder of `token`, answered at once from the knowledge base (needs
/// [`password_article`]).
async fn auto_answered(app: &TestApp, token: &str) -> String {
    let t = open(app, token, "忘记密码了", "忘记密码怎么重置？").await;
    assert_eq!(t["status"], "auto_answered", "{t}");
    t["id"].as_str().expect("id").to_owned()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_its_declaration_says() {
    let app = app().await;
    let calls = check_every_route(&app).await;
    // 27 operations of intake's own (and the kernel's), each without a token and as 6 roles,
    // staff with 4 functions and a service with each of 8 scopes.
    assert!(calls >= 27 * (6 + 4 + SCOPES.len()), "only {calls} calls");
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn a_customers_records_answer_them_and_are_a_404_to_another_customer() {
    let app = app().await;
    password_article(&app).await;
    let owner = Uuid::new_v4();
    let a = app.token(owner, Role::Customer);
    let b = app.token(Uuid::new_v4(), Role::Customer);
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let profile = json!({"role": "parent", "contacts": [{"channel": "email", "address": "owner@example.com"}]});
    let (status, _) = app.put_json(&format!("/v1/customers/{owner}"), &admin, &profile).await;
    assert_eq!(status, 201);
    let ticket = id_of(&open(&app, &a, "作业提交不了", "点提交按钮没有反应").await);
    let answered = auto_answered(&app, &a).await;
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
            case(Method::GET, format!("/v1/tickets/{ticket}"), None),
            case(Method::GET, format!("/v1/tickets/{ticket}/messages"), None),
            case(
                Method::POST,
                format!("/v1/tickets/{ticket}/messages"),
                Some(json!({"body": "换了浏览器还是不行"})),
            ),
            case(Method::GET, format!("/v1/customers/{owner}"), None),
            case(Method::GET, format!("/v1/customers/{owner}/tickets"), None),
            case(
                Method::POST,
                format!("/v1/tickets/{answered}/answer-feedback"),
                Some(json!({"solved": true})),
            ),
            // Last: a cancelled ticket takes no more messages.
            case(
                Method::POST,
                format!("/v1/tickets/{ticket}/transitions"),
                Some(json!({"action": "cancel"})),
            ),
        ],
    )
    .await;
    // The stranger changed nothing, and their own list does not show the owner's tickets.
    let (_, mine) = app.get_status("/v1/tickets", &b).await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(0), "{mine}");
    let (_, thread) = app.get_status(&format!("/v1/tickets/{ticket}/messages"), &a).await;
    assert_eq!(thread["items"].as_array().map(Vec::len), Some(1), "{thread}");
}

#[tokio::test]
async fn a_service_opens_and_works_tickets_only_with_tickets_write() {
    let app = app().await;
    password_article(&app).await;
    let customer = Uuid::new_v4();
    let body =
        json!({"channel": "api", "customer_id": customer, "subject": "作业提交不了", "body": "点提交按钮没有反应"});
    let (status, ticket) = scoped(&app, "tickets:write", Method::POST, "/v1/tickets", Some(body)).await;
    assert_eq!(status, 201, "{ticket}");
    let t = id_of(&ticket);
    let assign = json!({"action": "assign", "agent_id": Uuid::new_v4()});
    let path = format!("/v1/tickets/{t}/transitions");
    let (status, assigned) = scoped(&app, "tickets:write", Method::POST, &path, Some(assign)).await;
    assert_eq!(
        (status, assigned["status"].as_str()),
        (200, Some("assigned")),
        "{assigned}"
    );
    let path = format!("/v1/tickets/{t}/messages");
    let note = json!({"body": "Checked the upload service", "kind": "note"});
    let (status, message) = scoped(&app, "tickets:write", Method::POST, &path, Some(note)).await;
    assert_eq!(status, 201, "{message}");
    let me = app.token(customer, Role::Customer);
    let answered = auto_answered(&app, &me).await;
    let path = format!("/v1/tickets/{answered}/answer-feedback");
    let (status, verdict) = scoped(
        &app,
        "tickets:write",
        Method::POST,
        &path,
        Some(json!({"solved": false})),
    )
    .await;
    assert_eq!((status, verdict["status"].as_str()), (200, Some("queued")), "{verdict}");
}

#[tokio::test]
async fn a_service_reads_tickets_and_histories_only_with_tickets_read() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let t = id_of(&open(&app, &me, "作业提交不了", "点提交按钮没有反应").await);
    let (status, list) = scoped(&app, "tickets:read", Method::GET, "/v1/tickets", None).await;
    assert_eq!(
        (status, list["items"][0]["id"].as_str()),
        (200, Some(t.as_str())),
        "{list}"
    );
    let (status, got) = scoped(&app, "tickets:read", Method::GET, &format!("/v1/tickets/{t}"), None).await;
    assert_eq!((status, got["id"].as_str()), (200, Some(t.as_str())), "{got}");
    let path = format!("/v1/tickets/{t}/messages");
    let (status, thread) = scoped(&app, "tickets:read", Method::GET, &path, None).await;
    assert_eq!(status, 200, "{thread}");
    let path = format!("/v1/customers/{customer}/tickets");
    let (status, history) = scoped(&app, "tickets:read", Method::GET, &path, None).await;
    assert_eq!((status, history["total"].as_i64()), (200, Some(1)), "{history}");
}

#[tokio::test]
async fn a_service_writes_profiles_only_with_customers_write_and_reads_them_only_with_customers_read() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let path = format!("/v1/customers/{customer}");
    let profile = json!({"role": "student", "contacts": [{"channel": "email", "address": "li@example.com"}]});
    let (status, created) = scoped(&app, "customers:write", Method::PUT, &path, Some(profile)).await;
    assert_eq!(status, 201, "{created}");
    let (status, got) = scoped(&app, "customers:read", Method::GET, &path, None).await;
    assert_eq!((status, got["role"].as_str()), (200, Some("student")), "{got}");
}

#[tokio::test]
async fn only_the_mail_gateway_with_email_inbound_or_an_admin_posts_mail() {
    let app = app().await;
    let mail = json!({"message_id": "<m1@example.com>", "from": "li@example.com", "subject": "Certificate download",
        "body": "Where can I download my course certificate?"});
    let (status, taken) = scoped(&app, "email:inbound", Method::POST, "/v1/inbound/email", Some(mail)).await;
    assert_eq!((status, taken["outcome"].as_str()), (201, Some("created")), "{taken}");
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let mail = json!({"message_id": "<m2@example.com>", "from": "wang@example.com", "subject": "Timetable",
        "body": "When is the next lesson?"});
    let (status, _) = app.post_json("/v1/inbound/email", &admin, &mail).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_service_searches_and_reads_the_knowledge_base_only_with_kb_read() {
    let app = app().await;
    let article = id_of(&password_article(&app).await);
    let path = "/v1/kb/search?q=%E5%BF%98%E8%AE%B0%E5%AF%86%E7%A0%81";
    let (status, hits) = scoped(&app, "kb:read", Method::GET, path, None).await;
    assert_eq!(
        (status, hits["items"][0]["article"]["id"].as_str()),
        (200, Some(article.as_str())),
        "{hits}"
    );
    let path = format!("/v1/kb/articles/{article}");
    let (status, got) = scoped(&app, "kb:read", Method::GET, &path, None).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["history"], json!([]), "earlier versions are the desk's");
    // Writing stays the desk's.
    let body = json!({"title": "t", "body": "b", "language": "en", "category": "other"});
    let reader = testkit::service_token(Uuid::new_v4(), &SCOPES);
    let (status, _) = app.post_json("/v1/kb/articles", &reader, &body).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_service_reads_incidents_with_incidents_read_and_links_tickets_with_incidents_write() {
    let app = app().await;
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let first = id_of(&open(&app, &me, "摄像头黑屏", "上课时摄像头一直黑屏").await);
    let body = json!({"fault_type": "hardware", "title": "Camera driver update breaks video", "ticket_ids": [first]});
    let (status, incident) = app.post_json("/v1/incidents", &agent, &body).await;
    assert_eq!(status, 201, "{incident}");
    let incident = id_of(&incident);

    let (status, list) = scoped(&app, "incidents:read", Method::GET, "/v1/incidents", None).await;
    assert_eq!(
        (status, list["items"][0]["id"].as_str()),
        (200, Some(incident.as_str())),
        "{list}"
    );
    let path = format!("/v1/incidents/{incident}");
    let (status, got) = scoped(&app, "incidents:read", Method::GET, &path, None).await;
    assert_eq!((status, got["ticket_count"].as_i64()), (200, Some(1)), "{got}");

    let second = id_of(&open(&app, &me, "退费", "我想申请退费").await);
    let path = format!("/v1/incidents/{incident}/tickets");
    let link = json!({"ticket_id": second});
    let (status, linked) = scoped(&app, "incidents:write", Method::POST, &path, Some(link)).await;
    assert_eq!((status, linked["ticket_count"].as_i64()), (200, Some(2)), "{linked}");
    let path = format!("/v1/incidents/{incident}/tickets/{second}");
    let (status, _) = scoped(&app, "incidents:write", Method::DELETE, &path, None).await;
    assert_eq!(status, 204);

    // Opening and resolving incidents stay the desk's, whatever a service holds.
    let service = testkit::service_token(Uuid::new_v4(), &SCOPES);
    let body = json!({"fault_type": "network", "title": "x"});
    let (status, _) = app.post_json("/v1/incidents", &service, &body).await;
    assert_eq!(status, 403);
    let body = json!({"resolution": "fixed"});
    let (status, _) = app
        .post_json(&format!("/v1/incidents/{incident}/resolve"), &service, &body)
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn desk_only_routes_refuse_services_and_staff_whatever_they_hold() {
    let app = app().await;
    let service = testkit::service_token(Uuid::new_v4(), &SCOPES);
    let trainer = testkit::token_for(
        &platform::auth::Principal::new(Uuid::new_v4(), &[Role::Staff])
            .with_functions(&platform::auth::StaffFunction::ALL),
    );
    for token in [&service, &trainer] {
        for path in ["/v1/follow-ups", "/v1/reports/quality"] {
            let (status, _) = app.get_status(path, token).await;
            assert_eq!(status, 403, "{path}");
        }
    }
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let (status, _) = app.get_status("/v1/reports/quality", &agent).await;
    assert_eq!(status, 403, "the quality report is for supervisors and admins");
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let (status, report) = app.get_status("/v1/reports/quality", &supervisor).await;
    assert_eq!(status, 200, "{report}");
}
