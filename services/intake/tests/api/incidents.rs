//! Outages grouped into incidents.

use platform::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{app, open, open_new};

#[tokio::test]
async fn many_reports_of_one_fault_become_one_incident_resolved_together() {
    let app = app().await;
    let reports = [
        ("直播课进不去", "晚上七点的直播课进不去，一直转圈加载"),
        ("教室一直加载", "进入直播教室后一直转圈，网络是好的"),
        ("直播间打不开", "直播课一直加载失败，转圈圈"),
        ("上课进不去了", "直播课教室进不去，一直在转圈"),
    ];
    let mut tickets = Vec::new();
    for (subject, body) in reports {
        let me = app.token(Uuid::new_v4(), Role::Customer);
        tickets.push(open(&app, &me, subject, body).await);
    }
    assert!(tickets.iter().all(|t| t["classification"]["fault_type"] == "network"));
    let incident = tickets[2]["incident_id"]
        .as_str()
        .expect("grouped at the third")
        .to_owned();
    assert!(tickets[0]["incident_id"].is_null() && tickets[1]["incident_id"].is_null());
    assert_eq!(
        tickets[3]["incident_id"],
        incident.as_str(),
        "the fourth joins the open incident"
    );
    let unrelated = open_new(&app, "退费", "我想申请退费").await;
    assert!(unrelated["incident_id"].is_null());

    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let got: Value = app.get_json(&format!("/v1/incidents/{incident}"), &agent).await;
    assert_eq!(got["ticket_count"], 4);
    assert_eq!(got["status"], "open");
    let opened: i64 = app
        .count("SELECT count(*) FROM outbox_event WHERE event_type = 'intake.incident.opened'")
        .await;
    assert_eq!(opened, 1);

    // An agent links a ticket the grouping missed, and unlinks a wrong one.
    let missed = open_new(&app, "没法上课", "老师说我不在教室").await;
    let missed_id = missed["id"].as_str().expect("id");
    let body = json!({"ticket_id": missed_id});
    let (_, linked) = app
        .post_json(&format!("/v1/incidents/{incident}/tickets"), &agent, &body)
        .await;
    assert_eq!(linked["ticket_count"], 5);
    let wrong = tickets[3]["id"].as_str().expect("id");
    let (status, _) = app
        .delete_json(&format!("/v1/incidents/{incident}/tickets/{wrong}"), &agent)
        .await;
    assert_eq!(status, 204);
    let customer = app.token(Uuid::new_v4(), Role::Customer);
    let (status, _) = app.get_status(&format!("/v1/incidents/{incident}"), &customer).await;
    assert_eq!(status, 403);

    let body = json!({"resolution": "直播服务器故障已修复，请刷新页面重新进入教室。"});
    let (status, done) = app
        .post_json(&format!("/v1/incidents/{incident}/resolve"), &agent, &body)
        .await;
    assert_eq!(status, 200);
    assert_eq!(done["resolved_tickets"].as_array().map(Vec::len), Some(4));
    assert_eq!(done["incident"]["status"], "resolved");
    let statuses: Vec<(String, bool)> =
        sqlx::query_as("SELECT status, first_response_at IS NOT NULL FROM ticket WHERE incident_id = $1::uuid")
            .bind(&incident)
            .fetch_all(&app.platform.pool)
            .await
            .expect("statuses");
    assert!(
        statuses.iter().all(|(s, answered)| s == "resolved" && *answered),
        "{statuses:?}"
    );
    let unlinked: String = sqlx::query_scalar("SELECT status FROM ticket WHERE id = $1::uuid")
        .bind(wrong)
        .fetch_one(&app.platform.pool)
        .await
        .expect("status");
    assert_eq!(unlinked, "queued", "the unlinked ticket is left alone");
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_event WHERE event_type = 'intake.ticket.resolved'")
            .await,
        4,
        "each customer is informed"
    );
    let body = json!({"resolution": "again"});
    let (again, _) = app
        .post_json(&format!("/v1/incidents/{incident}/resolve"), &agent, &body)
        .await;
    assert_eq!(again, 409);
}

#[tokio::test]
async fn an_agent_opens_an_incident_by_hand() {
    let app = app().await;
    let agent_id = Uuid::new_v4();
    let agent = app.token(agent_id, Role::Agent);
    let t = open_new(&app, "摄像头黑屏", "上课时摄像头一直黑屏").await;
    let body = json!({"fault_type": "hardware", "title": "Camera driver update breaks video", "ticket_ids": [t["id"]]});
    let (status, incident) = app.post_json("/v1/incidents", &agent, &body).await;
    assert_eq!(status, 201);
    assert_eq!(incident["ticket_count"], 1);
    assert_eq!(incident["opened_by"], agent_id.to_string());
    let (bad, _) = app
        .post_json("/v1/incidents", &agent, &json!({"fault_type": "gremlins", "title": ""}))
        .await;
    assert_eq!(bad, 422);
    let body = json!({"fault_type": "network", "title": "x", "ticket_ids": [Uuid::new_v4()]});
    let (missing, _) = app.post_json("/v1/incidents", &agent, &body).await;
    assert_eq!(missing, 404);
    assert_eq!(
        app.count("SELECT count(*) FROM incident").await,
        1,
        "nothing of the refused ones remains"
    );
    let customer = app.token(Uuid::new_v4(), Role::Customer);
    let body = json!({"fault_type": "network", "title": "x"});
    let (status, _) = app.post_json("/v1/incidents", &customer, &body).await;
    assert_eq!(status, 403);
}
