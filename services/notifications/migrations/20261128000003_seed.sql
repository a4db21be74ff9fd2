-- Default rules and templates; editable over the API (new template versions, rule changes).

INSERT INTO rule (name, event_type, conditions, recipient, notification, channels, category, urgency, digest_secs) VALUES
 ('ticket-received', 'routing.ticket.queued', '{}', '/customer_id', 'ticket_received', '{in_app,email}', 'ticket', 'transactional', NULL),
 ('ticket-answered', 'intake.ticket.message_added', '{"/author_role": "agent", "/visibility": "public", "/kind": "message"}', '/customer_id', 'ticket_answered', '{in_app,email}', 'ticket', 'transactional', NULL),
 ('ticket-progress', 'intake.ticket.message_added', '{"/visibility": "public", "/kind": "progress_update"}', '/customer_id', 'ticket_progress', '{in_app,email}', 'progress', 'low', 600),
 ('ticket-resolved', 'intake.ticket.resolved', '{}', '/customer_id', 'ticket_resolved', '{in_app,email}', 'ticket', 'transactional', NULL),
 ('survey', 'intake.survey.requested', '{}', '/customer_id', 'survey_requested', '{in_app,email,sms}', 'survey', 'normal', NULL),
 ('ticket-assigned', 'routing.ticket.assigned', '{}', '/agent_id', 'ticket_assigned', '{in_app}', 'assignment', 'urgent', NULL),
 ('sla-warning', 'routing.sla.warning', '{}', '/agent_id', 'sla_warning', '{in_app}', 'sla', 'urgent', NULL),
 ('sla-breached', 'routing.sla.breached', '{}', '/supervisor_id', 'sla_breached', '{in_app,email}', 'sla', 'urgent', NULL),
 ('ticket-escalated', 'routing.ticket.escalated', '{}', '/supervisor_id', 'ticket_escalated', '{in_app}', 'sla', 'urgent', NULL);

-- `in_app` templates serve every channel that has none of its own; `ref` shortens an id.
INSERT INTO template (notification, channel, locale, version, subject, body, html) VALUES
 ('ticket_received', 'in_app', 'zh-CN', 1, '我们已收到您的问题', '您的工单 {{ ticket_id|ref }} 已进入服务队列，客服人员将尽快为您解答。', NULL),
 ('ticket_received', 'in_app', 'en', 1, 'We received your request', 'Your ticket {{ ticket_id|ref }} is in the queue; an agent will answer you shortly.', NULL),
 ('ticket_answered', 'in_app', 'zh-CN', 1, '您的工单 {{ ticket_id|ref }} 有新回复', '客服已回复您的工单 {{ ticket_id|ref }}，请查看。', NULL),
 ('ticket_answered', 'in_app', 'en', 1, 'New reply on ticket {{ ticket_id|ref }}', 'An agent answered your ticket {{ ticket_id|ref }}.', NULL),
 ('ticket_progress', 'in_app', 'zh-CN', 1, '工单 {{ ticket_id|ref }} 处理进度更新', '您的工单 {{ ticket_id|ref }} 有新的处理进展。', NULL),
 ('ticket_progress', 'in_app', 'en', 1, 'Progress on ticket {{ ticket_id|ref }}', 'There is news on your ticket {{ ticket_id|ref }}.', NULL),
 ('ticket_resolved', 'in_app', 'zh-CN', 1, '工单 {{ ticket_id|ref }} 已解决', '您的工单 {{ ticket_id|ref }} 已处理完毕。如问题仍未解决，可直接回复重新打开。', NULL),
 ('ticket_resolved', 'in_app', 'en', 1, 'Ticket {{ ticket_id|ref }} is resolved', 'Your ticket {{ ticket_id|ref }} is resolved. Reply to reopen it if the problem remains.', NULL),
 ('survey_requested', 'in_app', 'zh-CN', 1, '请为本次服务评分', '请花一分钟评价工单 {{ ticket_id|ref }} 的服务：{{ base_url }}/survey/{{ token }}', NULL),
 ('survey_requested', 'in_app', 'en', 1, 'How did we do?', 'Please rate the help you got on ticket {{ ticket_id|ref }}: {{ base_url }}/survey/{{ token }}', NULL),
 ('survey_requested', 'sms', 'zh-CN', 1, '', '【客服】请为工单 {{ ticket_id|ref }} 的服务评分：{{ base_url }}/survey/{{ token }}', NULL),
 ('survey_requested', 'sms', 'en', 1, '', 'Rate your support on ticket {{ ticket_id|ref }}: {{ base_url }}/survey/{{ token }}', NULL),
 ('ticket_assigned', 'in_app', 'zh-CN', 1, '新工单 {{ ticket_id|ref }} 已分配给您', '来自{{ queue }}队列的工单 {{ ticket_id|ref }}（{{ channel }}）已分配给您。', NULL),
 ('ticket_assigned', 'in_app', 'en', 1, 'Ticket {{ ticket_id|ref }} is yours', 'Ticket {{ ticket_id|ref }} from the {{ queue }} queue ({{ channel }}) was assigned to you.', NULL),
 ('sla_warning', 'in_app', 'zh-CN', 1, '工单 {{ ticket_id|ref }} 即将超时', '工单 {{ ticket_id|ref }} 的{{ metric|metric_zh }}将于 {{ due_at }} 到期。', NULL),
 ('sla_warning', 'in_app', 'en', 1, 'Ticket {{ ticket_id|ref }} is close to its target', 'The {{ metric|replace("_", " ") }} target of ticket {{ ticket_id|ref }} is due at {{ due_at }}.', NULL),
 ('sla_breached', 'in_app', 'zh-CN', 1, '工单 {{ ticket_id|ref }} 超出{{ metric|metric_zh }}时限', '工单 {{ ticket_id|ref }} 未在规定时间内完成{{ metric|metric_zh }}，{% if escalated_to_tier %}已升级至 {{ escalated_to_tier }} 级客服并{% else %}已{% endif %}提高优先级，请关注。', NULL),
 ('sla_breached', 'in_app', 'en', 1, 'Ticket {{ ticket_id|ref }} missed its {{ metric|replace("_", " ") }} target', 'Ticket {{ ticket_id|ref }} missed its {{ metric|replace("_", " ") }} target; {% if escalated_to_tier %}it was escalated to the {{ escalated_to_tier }} tier with a higher priority{% else %}its priority was raised{% endif %}.', NULL),
 ('ticket_escalated', 'in_app', 'zh-CN', 1, '工单 {{ ticket_id|ref }} 已升级', '工单 {{ ticket_id|ref }} 已从 {{ from_tier }} 升级至 {{ to_tier }}：{{ reason }}', NULL),
 ('ticket_escalated', 'in_app', 'en', 1, 'Ticket {{ ticket_id|ref }} was escalated', 'Ticket {{ ticket_id|ref }} moved from {{ from_tier }} to {{ to_tier }}: {{ reason }}', NULL),
 ('digest', 'in_app', 'zh-CN', 1, '您有 {{ items|length }} 条新通知', '{% for item in items %}· {{ item.title }}：{{ item.body }}
{% endfor %}', NULL),
 ('digest', 'in_app', 'en', 1, 'You have {{ items|length }} new updates', '{% for item in items %}- {{ item.title }}: {{ item.body }}
{% endfor %}', NULL),
 ('endpoint_disabled', 'in_app', 'zh-CN', 1, 'Webhook 端点已停用', '端点 {{ url }} 已停用：{{ reason }}', NULL),
 ('endpoint_disabled', 'in_app', 'en', 1, 'Webhook endpoint disabled', 'The endpoint {{ url }} was disabled: {{ reason }}', NULL);
