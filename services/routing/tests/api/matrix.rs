//! Who may call what: every route against every kind of caller (from the OpenAPI document's
//! declarations), an agent's own presence, offers and tickets (a 404 to another agent), and
//! the one scope a service needs here, `routing:read`.

use contracts::vocabulary::Priority;
use platform::auth::{Principal, Role, StaffFunction};
use reqwest::Method;
use serde_json::json;
use testkit::matrix::{Owned, check_every_route, check_owned};
use uuid::Uuid;

use super::*;

/// Every scope routing's routes name.
const SCOPES: [&str; 1] = ["routing:read"];

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

/// Calls `path` as a service without scopes and as one holding scopes of other services (both
/// must be refused with a 403 naming `scope`), then as a service holding only `scope`: its
/// answer.
async fn scoped(app: &TestApp, scope: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let elsewhere = ["tickets:read", "customers:read", "notifications:send"];
    for (who, token) in [
        ("a service without scopes", testkit::service_token(Uuid::new_v4(), &[])),
        (
            "a service with other services' scopes",
            testkit::service_token(Uuid::new_v4(), &elsewhere),
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

/// A ticket created now (waiting in the general queue, its clocks started); its id.
async fn waiting_ticket(app: &TestApp) -> Uuid {
    let env = created(Priority::Normal, None);
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    testkit::eventually(10, "queued with clocks", || async {
        let (entry, _) = app
            .get_status(&format!("/v1/queue-entries/{ticket}"), &supervisor)
            .await;
        let (sla, _) = app.get_status(&format!("/v1/tickets/{ticket}/sla"), &supervisor).await;
        Ok((entry == 200 && sla == 200).then_some(()))
    })
    .await
    .expect("the ticket is routed");
    ticket
}

/// Every route `api::configure` registers, as (method, path template).
const ROUTES: [(&str, &str); 21] = [
    ("post", "/v1/agents/{agent_id}/next"),
    ("get", "/v1/queues"),
    ("put", "/v1/queues/{name}"),
    ("get", "/v1/queue-entries/{ticket_id}"),
    ("get", "/v1/agents"),
    ("put", "/v1/agents/{agent_id}"),
    ("get", "/v1/agents/{agent_id}"),
    ("put", "/v1/agents/{agent_id}/presence"),
    ("post", "/v1/agents/{agent_id}/heartbeat"),
    ("get", "/v1/agents/{agent_id}/offers"),
    ("get", "/v1/agents/{agent_id}/tickets"),
    ("post", "/v1/offers/{ticket_id}/accept"),
    ("post", "/v1/offers/{ticket_id}/decline"),
    ("post", "/v1/tickets/{ticket_id}/transfer"),
    ("post", "/v1/tickets/{ticket_id}/escalate"),
    ("get", "/v1/tickets/{ticket_id}/sla"),
    ("get", "/v1/sla-policies"),
    ("put", "/v1/sla-policies/{name}"),
    ("post", "/v1/admin/rebuild"),
    ("get", "/v1/live"),
    ("post", "/v1/forecast"),
];

#[tokio::test]
async fn every_route_is_in_the_document_with_its_own_declaration() {
    let app = app().await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("openapi json");
    assert!(
        doc.get("security").is_none(),
        "no service-wide default: {}",
        doc["security"]
    );
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        let security = op["security"].as_array();
        assert!(
            security.is_some_and(
                |s| !s.is_empty() && s.iter().all(|r| r["bearer"].as_array().is_some_and(|n| !n.is_empty()))
            ),
            "{method} {path} names who may call it: {op}"
        );
    }
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_its_declaration_says() {
    let app = app().await;
    let calls = check_every_route(&app).await;
    // 21 operations of routing's own (and the kernel's), each as 6 roles, staff with 4
    // functions and a service with routing:read, and without a token.
    assert!(calls >= 21 * (1 + 6 + 4 + SCOPES.len()), "only {calls} calls");
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn an_agents_presence_offers_and_tickets_answer_them_and_are_a_404_to_another_agent() {
    let app = app().await;
    let a = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 2})).await;
    let b = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 2})).await;
    let owner = app.token(a, Role::Agent);
    let stranger = app.token(b, Role::Agent);
    let case = |method: Method, path: String, body: Option<Value>| Owned {
        method,
        path,
        body,
        owner: &owner,
        stranger: &stranger,
    };
    check_owned(
        &app,
        &[
            case(Method::GET, format!("/v1/agents/{a}/offers"), None),
            case(Method::GET, format!("/v1/agents/{a}/tickets"), None),
            case(
                Method::PUT,
                format!("/v1/agents/{a}/presence"),
                Some(json!({"status": "online"})),
            ),
            case(Method::POST, format!("/v1/agents/{a}/heartbeat"), None),
            case(Method::POST, format!("/v1/agents/{a}/next"), None),
        ],
    )
    .await;
    // The stranger changed nothing: A is still online, B too.
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    for id in [a, b] {
        let agent = app.get_json(&format!("/v1/agents/{id}"), &supervisor).await;
        assert_eq!(agent["presence"], "online", "{agent}");
    }
    // Supervisors and admins act for any agent.
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    for manager in [&supervisor, &admin] {
        let (status, _) = app.get_status(&format!("/v1/agents/{a}/tickets"), manager).await;
        assert_eq!(status, 200);
        let (status, _) = app
            .post_json(&format!("/v1/agents/{a}/heartbeat"), manager, &Value::Null)
            .await;
        assert_eq!(status, 204);
    }
    // "Next" is the agent's own: a manager is refused by the declaration.
    let (status, _) = app
        .post_json(&format!("/v1/agents/{a}/next"), &supervisor, &Value::Null)
        .await;
    assert_eq!(status, 403);
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn a_service_reads_queues_agents_and_clocks_only_with_routing_read() {
    let app = app().await;
    let ticket = waiting_ticket(&app).await;
    let agent = online_agent(&app, "mid", &["refund"], &["zh-CN"], json!({"email": 3})).await;

    let (status, queues) = scoped(&app, "routing:read", Method::GET, "/v1/queues", None).await;
    assert_eq!(status, 200, "{queues}");
    assert!(
        queues["items"]
            .as_array()
            .is_some_and(|q| q.iter().any(|q| q["name"] == "general" && q["waiting"] == 1)),
        "{queues}"
    );
    let path = format!("/v1/queue-entries/{ticket}");
    let (status, entry) = scoped(&app, "routing:read", Method::GET, &path, None).await;
    assert_eq!((status, entry["status"].as_str()), (200, Some("waiting")), "{entry}");
    let path = format!("/v1/tickets/{ticket}/sla");
    let (status, clocks) = scoped(&app, "routing:read", Method::GET, &path, None).await;
    assert_eq!(status, 200, "{clocks}");
    assert!(clocks["timers"].as_array().is_some_and(|t| !t.is_empty()), "{clocks}");
    let (status, policies) = scoped(&app, "routing:read", Method::GET, "/v1/sla-policies", None).await;
    assert_eq!(status, 200, "{policies}");
    assert!(
        policies["items"].as_array().is_some_and(|p| !p.is_empty()),
        "{policies}"
    );
    let (status, agents) = scoped(&app, "routing:read", Method::GET, "/v1/agents?tier=mid", None).await;
    assert_eq!(status, 200, "{agents}");
    assert_eq!(agents["items"][0]["id"], agent.to_string(), "{agents}");
    let path = format!("/v1/agents/{agent}");
    let (status, one) = scoped(&app, "routing:read", Method::GET, &path, None).await;
    assert_eq!((status, one["presence"].as_str()), (200, Some("online")), "{one}");
    let (status, live) = scoped(&app, "routing:read", Method::GET, "/v1/live", None).await;
    assert_eq!(status, 200, "{live}");
    assert!(live["queues"].as_array().is_some_and(|q| !q.is_empty()), "{live}");
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn routing_read_lets_a_service_change_nothing_and_staff_without_the_desk_are_refused() {
    let app = app().await;
    let ticket = waiting_ticket(&app).await;
    // On email only: the chat ticket is not offered to them and keeps waiting.
    let agent = online_agent(&app, "junior", &[], &["zh-CN"], json!({"email": 2})).await;
    let reader = testkit::service_token(agent, &SCOPES);
    let staff = testkit::token_for(&Principal::new(agent, &[Role::Staff]).with_functions(&StaffFunction::ALL));
    let writes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PUT,
            "/v1/queues/service-queue".to_owned(),
            Some(json!({"categories": ["refund"]})),
        ),
        (
            Method::PUT,
            format!("/v1/agents/{}", Uuid::new_v4()),
            Some(json!({"display_name": "x", "tier": "junior", "capacity": {"chat": 1}})),
        ),
        (
            Method::PUT,
            "/v1/sla-policies/service-policy".to_owned(),
            Some(json!({"name": "service-policy", "first_response_secs": 60})),
        ),
        (
            Method::PUT,
            format!("/v1/agents/{agent}/presence"),
            Some(json!({"status": "offline"})),
        ),
        (Method::POST, format!("/v1/agents/{agent}/heartbeat"), None),
        (Method::POST, format!("/v1/agents/{agent}/next"), None),
        (Method::GET, format!("/v1/agents/{agent}/offers"), None),
        (Method::GET, format!("/v1/agents/{agent}/tickets"), None),
        (Method::POST, format!("/v1/offers/{ticket}/accept"), None),
        (Method::POST, format!("/v1/offers/{ticket}/decline"), None),
        (
            Method::POST,
            format!("/v1/tickets/{ticket}/transfer"),
            Some(json!({"queue": "technical"})),
        ),
        (
            Method::POST,
            format!("/v1/tickets/{ticket}/escalate"),
            Some(json!({"reason": "a service may not"})),
        ),
        (
            Method::POST,
            "/v1/forecast".to_owned(),
            Some(json!({"intervals": [{"contacts": 10.0}], "handle_secs": 300.0})),
        ),
        (Method::POST, "/v1/admin/rebuild".to_owned(), None),
    ];
    for (method, path, body) in &writes {
        for (who, token) in [("a service with routing:read", &reader), ("staff", &staff)] {
            let (status, problem) = call(&app, method, path, body.as_ref(), token).await;
            assert_eq!(status, 403, "{method} {path} as {who}: {problem}");
        }
    }
    // Reads are the desk's and services': staff who do not work the desk are refused.
    for path in ["/v1/queues", "/v1/sla-policies", "/v1/live", "/v1/agents"] {
        let (status, _) = app.get_status(path, &staff).await;
        assert_eq!(status, 403, "{path} as staff");
    }
    // Nothing changed: the ticket still waits, the agent is still online.
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    assert_eq!(entry_json(&app, ticket).await["status"], "waiting");
    let a = app.get_json(&format!("/v1/agents/{agent}"), &supervisor).await;
    assert_eq!(a["presence"], "online", "{a}");
    app.stop().await.expect("stop");
}
