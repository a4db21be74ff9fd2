//! Intake's flows across the running platform: a ticket answered from the knowledge base, one
//! handed to a person, a high-emotion complaint sent to senior agents, and an outage grouped
//! into one incident and resolved together.

use platform::auth::Role;
use serde_json::{Value, json};
use system_tests::{Stack, token};
use uuid::Uuid;

/// Routing's entry for a ticket once it has one.
async fn routed(stack: &Stack, ticket: &Value) -> Value {
    let id = ticket["id"].as_str().expect("id").to_owned();
    let agent = token(Uuid::new_v4(), Role::Agent);
    testkit::eventually(15, "routing's entry", || async {
        let (status, entry) = stack
            .get_status("routing", &format!("/v1/queue-entries/{id}"), &agent)
            .await;
        Ok((status == 200).then_some(entry))
    })
    .await
    .expect("routed")
}

#[tokio::test]
async fn answered_handed_over_flagged_and_grouped() {
    let stack = Stack::start(&[]).await.expect("stack");
    let agent = token(Uuid::new_v4(), Role::Agent);

    // The knowledge base knows the standard question.
    let article = json!({"title": "忘记密码怎么重置", "body": "在登录页点击“忘记密码”，用注册手机号收验证码后设置新密码。",
                         "language": "zh-CN", "category": "other"});
    let (status, _) = stack.post_json("intake", "/v1/kb/articles", &agent, &article).await;
    assert_eq!(status, 201);

    // 1. Answered at once from the knowledge base; "solved" closes it without a person.
    let answered_by = Uuid::new_v4();
    let answered = stack.open_ticket(answered_by, "忘记密码了", "忘记密码怎么重置？").await;
    assert_eq!(answered["status"], "auto_answered");
    assert_eq!(
        routed(&stack, &answered).await["status"],
        "held",
        "no person needed yet"
    );
    let (status, solved) = stack
        .post_json(
            "intake",
            &format!("/v1/tickets/{}/answer-feedback", answered["id"].as_str().expect("id")),
            &token(answered_by, Role::Customer),
            &json!({"solved": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(solved["deflected"], true);

    // 2. A question the knowledge base cannot answer waits for a person in its queue, and the
    //    customer hears it was received.
    let asker = Uuid::new_v4();
    let handed = stack
        .open_ticket(asker, "作业批改", "老师什么时候批改上周的作业？")
        .await;
    assert_eq!(handed["status"], "queued");
    let entry = routed(&stack, &handed).await;
    assert_eq!(entry["status"], "waiting");
    assert_eq!(entry["queue"], "learning_progress");
    let inbox = testkit::eventually(15, "ticket received", || async {
        let (_, inbox) = stack
            .get_status("notifications", "/v1/inbox", &token(asker, Role::Customer))
            .await;
        Ok(inbox["items"].as_array().filter(|i| !i.is_empty()).cloned())
    })
    .await
    .expect("inbox");
    assert_eq!(inbox[0]["kind"], "ticket_received");

    // 3. An angry complaint is flagged and waits for senior agents.
    let angry = stack
        .open_ticket(
            Uuid::new_v4(),
            "投诉老师",
            "老师上课态度非常差，还辱骂孩子，我要投诉！！！",
        )
        .await;
    assert_eq!(angry["classification"]["category"], "complaint");
    assert_eq!(angry["classification"]["high_emotion"], true);
    assert_eq!(angry["priority"], "high");
    assert_eq!(routed(&stack, &angry).await["queue"], "senior");

    // 4. An outage: several customers report the same fault; one incident; resolving it
    //    resolves every report.
    let mut reports = Vec::new();
    for (subject, body) in [
        ("直播课进不去", "晚上七点的直播课进不去，一直转圈加载"),
        ("教室一直加载", "进入直播教室后一直转圈，网络是好的"),
        ("直播间打不开", "直播课一直加载失败，转圈圈"),
    ] {
        reports.push(stack.open_ticket(Uuid::new_v4(), subject, body).await);
    }
    let incident = reports[2]["incident_id"].as_str().expect("grouped").to_owned();
    let (_, got) = stack
        .get_status("intake", &format!("/v1/incidents/{incident}"), &agent)
        .await;
    assert_eq!(got["ticket_count"], 3);
    let (status, done) = stack
        .post_json(
            "intake",
            &format!("/v1/incidents/{incident}/resolve"),
            &agent,
            &json!({"resolution": "直播服务已恢复，请刷新页面重新进入。"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(done["resolved_tickets"].as_array().map(Vec::len), Some(3));
    for t in &reports {
        let id = t["id"].as_str().expect("id").to_owned();
        let (_, now) = stack.get_status("intake", &format!("/v1/tickets/{id}"), &agent).await;
        assert_eq!(now["status"], "resolved");
        // Routing takes resolved tickets out of the queue.
        testkit::eventually(15, "out of the queue", || async {
            let (_, entry) = stack
                .get_status("routing", &format!("/v1/queue-entries/{id}"), &agent)
                .await;
            Ok((entry["status"] == "closed").then_some(()))
        })
        .await
        .expect("closed");
    }
    stack.stop().await.expect("stop");
}
