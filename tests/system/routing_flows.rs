//! Routing across the running platform: a VIP ticket overtakes older ones, a complaint goes to
//! a senior agent, and a missed service level escalates the ticket and tells the supervisor.

use platform::auth::Role;
use serde_json::{Value, json};
use system_tests::{Stack, token};
use uuid::Uuid;

async fn open(stack: &Stack, customer: Uuid, subject: &str, body: &str) -> Uuid {
    let t = stack.open_ticket(customer, subject, body).await;
    assert_eq!(t["status"], "queued", "{t}");
    t["id"].as_str().and_then(|s| s.parse().ok()).expect("id")
}

/// Waits until routing knows the ticket, and returns its entry.
async fn entry(stack: &Stack, ticket: Uuid, check: impl Fn(&Value) -> bool) -> Value {
    let who = token(Uuid::new_v4(), Role::Supervisor);
    testkit::eventually(20, "routing's entry", || async {
        let (status, e) = stack
            .get_status("routing", &format!("/v1/queue-entries/{ticket}"), &who)
            .await;
        Ok((status == 200 && check(&e)).then_some(e))
    })
    .await
    .expect("entry")
}

async fn agent(stack: &Stack, tier: &str, skills: &[&str]) -> Uuid {
    let id = Uuid::new_v4();
    let supervisor = token(Uuid::new_v4(), Role::Supervisor);
    let definition =
        json!({"display_name": format!("{tier} agent"), "tier": tier, "skills": skills, "capacity": {"web": 1}});
    let (status, a) = stack
        .put_json("routing", &format!("/v1/agents/{id}"), &supervisor, &definition)
        .await;
    assert_eq!(status, 201, "{a}");
    let (status, _) = stack
        .put_json(
            "routing",
            &format!("/v1/agents/{id}/presence"),
            &token(id, Role::Agent),
            &json!({"status": "online"}),
        )
        .await;
    assert_eq!(status, 200);
    id
}

/// Waits for the agent's offer and accepts it; the ticket.
async fn accept_offer(stack: &Stack, agent: Uuid) -> Uuid {
    let me = token(agent, Role::Agent);
    let ticket: Uuid = testkit::eventually(20, "an offer", || async {
        let (_, offers) = stack
            .get_status("routing", &format!("/v1/agents/{agent}/offers"), &me)
            .await;
        Ok(offers["items"][0]["ticket_id"].as_str().and_then(|s| s.parse().ok()))
    })
    .await
    .expect("offer");
    let (status, accepted) = stack
        .post_empty("routing", &format!("/v1/offers/{ticket}/accept"), &me)
        .await;
    assert_eq!(status, 200, "{accepted}");
    ticket
}

/// Waits until intake shows the ticket assigned to `agent`.
async fn assigned_in_intake(stack: &Stack, ticket: Uuid, agent: Uuid) {
    let me = token(agent, Role::Agent);
    testkit::eventually(20, "intake shows the assignment", || async {
        let (_, t) = stack.get_status("intake", &format!("/v1/tickets/{ticket}"), &me).await;
        Ok((t["status"] == "assigned" && t["assignee_id"] == agent.to_string()).then_some(()))
    })
    .await
    .expect("assigned in intake");
}

#[tokio::test]
async fn vip_first_complaints_to_seniors_and_breaches_escalated() {
    let supervisor_id = Uuid::new_v4();
    let supervisor_env = supervisor_id.to_string();
    let stack = Stack::start_with(
        &[],
        &[("routing", "SERVICE__ESCALATION_SUPERVISOR_ID", &supervisor_env)],
    )
    .await
    .expect("stack");
    let supervisor = token(supervisor_id, Role::Supervisor);

    // A VIP customer, known to intake from the company's systems.
    let vip = Uuid::new_v4();
    let (status, c) = stack
        .put_json(
            "intake",
            &format!("/v1/customers/{vip}"),
            &testkit::service_token(Uuid::new_v4(), &["customers:write"]),
            &json!({"role": "parent", "segments": ["vip"]}),
        )
        .await;
    assert!(status == 201, "{c}");

    // 1. Two ordinary questions wait; the VIP's, asked later, is served first.
    let first = open(
        &stack,
        Uuid::new_v4(),
        "高中数学一对一课程怎么收费",
        "孩子今年高二，想报一对一数学辅导，请问课时费是多少？",
    )
    .await;
    let second = open(
        &stack,
        Uuid::new_v4(),
        "请问雅思冲刺班什么时候开课",
        "我想报名雅思冲刺班，想知道下一期开课时间。",
    )
    .await;
    for t in [first, second] {
        entry(&stack, t, |e| e["status"] == "waiting").await;
    }
    let vip_ticket = open(
        &stack,
        vip,
        "少儿编程课适合几岁的孩子",
        "孩子8岁，对编程感兴趣，你们的少儿编程课程适合这个年龄吗？",
    )
    .await;
    let vip_entry = entry(&stack, vip_ticket, |e| e["status"] == "waiting").await;
    assert_eq!(vip_entry["segments"], json!(["vip"]));
    let junior = agent(&stack, "junior", &["course_consultation"]).await;
    assert_eq!(
        accept_offer(&stack, junior).await,
        vip_ticket,
        "the VIP overtakes older tickets"
    );
    assigned_in_intake(&stack, vip_ticket, junior).await;

    // 2. An angry complaint goes to the senior agent, not the free junior one.
    let _another_junior = agent(&stack, "junior", &["complaint", "course_consultation"]).await;
    let senior = agent(&stack, "senior", &["complaint"]).await;
    let complaint = open(
        &stack,
        Uuid::new_v4(),
        "投诉！老师又迟到了，太过分了",
        "这已经是第三次了，老师上课迟到二十分钟，孩子白白浪费时间，我非常生气，要求退费并给个说法！",
    )
    .await;
    let e = entry(&stack, complaint, |e| e["status"] != "held").await;
    assert_eq!(e["tier"], "senior");
    assert_eq!(accept_offer(&stack, senior).await, complaint);
    assigned_in_intake(&stack, complaint, senior).await;

    // 3. A resource request under a 3-second first-response target nobody meets: escalated a
    //    tier up and the supervisor told in their inbox.
    let (status, p) = stack
        .put_json(
            "routing",
            "/v1/sla-policies/resources-fast",
            &supervisor,
            &json!({"name": "resources-fast", "categories": ["resource_request"], "first_response_secs": 3,
                    "precedence": 100}),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    // Policies are cached for up to catalog_refresh_ms (2 s).
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let late = open(
        &stack,
        Uuid::new_v4(),
        "需要课程讲义",
        "请问第三章的讲义在哪里下载？找不到资料入口。",
    )
    .await;
    let escalated = entry(&stack, late, |e| e["escalations"] == 1).await;
    assert_eq!(escalated["tier"], "mid");
    assert_eq!(escalated["priority"], "high");
    let (_, sla) = stack
        .get_status("routing", &format!("/v1/tickets/{late}/sla"), &supervisor)
        .await;
    assert!(
        sla["log"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["kind"] == "breached")),
        "{sla}"
    );
    let inbox = testkit::eventually(20, "the supervisor's inbox", || async {
        let (_, v) = stack.get_status("notifications", "/v1/inbox", &supervisor).await;
        Ok(v["items"]
            .as_array()
            .filter(|a| a.iter().any(|m| m["kind"] == "sla_breached"))
            .cloned())
    })
    .await
    .expect("told");
    assert!(inbox.iter().any(|m| {
        m["body"]
            .as_str()
            .unwrap_or_default()
            .contains(&late.simple().to_string()[..8].to_uppercase())
    }));
    stack.stop().await.expect("stop");
}
