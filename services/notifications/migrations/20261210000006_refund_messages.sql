-- The customer's refund messages: rules for refund's request events and their templates, seeded
-- like the other default rules (editable over the API). Rules and template versions an admin
-- already made under these names are kept.
--
-- Amounts arrive in minor units (`amount_minor`) with their ISO 4217 `currency`; a body showing
-- one first sets `amount` from them as refund prints money (`6,000.00`; `1,234,567` JPY; the
-- currency's minor-unit digits, grouped by thousands), then its text. On a rejection, `note` is
-- the decider's reason, told to the customer.

INSERT INTO rule (name, event_type, conditions, recipient, notification, channels, category, urgency, digest_secs) VALUES
 ('refund-request-submitted', 'refund.request.submitted', '{}', '/customer_id', 'refund_request_received', '{in_app,email}', 'refund', 'transactional', NULL),
 ('refund-request-approved', 'refund.request.approved', '{}', '/customer_id', 'refund_request_approved', '{in_app,email}', 'refund', 'transactional', NULL),
 ('refund-request-rejected', 'refund.request.rejected', '{}', '/customer_id', 'refund_request_rejected', '{in_app,email}', 'refund', 'transactional', NULL),
 ('refund-request-cancelled', 'refund.request.cancelled', '{}', '/customer_id', 'refund_request_cancelled', '{in_app,email}', 'refund', 'transactional', NULL)
ON CONFLICT (name) DO NOTHING;

INSERT INTO template (notification, channel, locale, version, subject, body, html) VALUES
 -- refund.request.submitted: `amount_minor` is the amount asked for.
 ('refund_request_received', 'in_app', 'zh-CN', 1, '我们已收到您的退款申请',
  '{%- set digits = 0 if currency in ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"] else 3 if currency in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] else 2 -%}
{%- set unit = 10 ** digits -%}{%- set units = (amount_minor|default(0) // unit)|string -%}
{%- set amount -%}{%- for d in units %}{% if loop.index > 1 and (units|length - loop.index + 1) % 3 == 0 %},{% endif %}{{ d }}{% endfor %}{% if digits %}.{{ ("%0" ~ digits ~ "d")|format(amount_minor|default(0) % unit) }}{% endif -%}{%- endset -%}
您对课程 {{ course_id }} 的退款申请（编号 {{ request_id|ref }}）已提交，申请金额 {{ amount }} {{ "元" if currency == "CNY" else currency }}。我们将按退费政策尽快处理，结果会及时通知您。', NULL),
 ('refund_request_received', 'in_app', 'en', 1, 'We received your refund request',
  '{%- set digits = 0 if currency in ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"] else 3 if currency in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] else 2 -%}
{%- set unit = 10 ** digits -%}{%- set units = (amount_minor|default(0) // unit)|string -%}
{%- set amount -%}{%- for d in units %}{% if loop.index > 1 and (units|length - loop.index + 1) % 3 == 0 %},{% endif %}{{ d }}{% endfor %}{% if digits %}.{{ ("%0" ~ digits ~ "d")|format(amount_minor|default(0) % unit) }}{% endif -%}{%- endset -%}
Your refund request {{ request_id|ref }} for {{ course_id }} ({{ amount }} {{ currency }}) was submitted. We will handle it under our refund policy and let you know the outcome.', NULL),
 ('refund_request_received', 'email', 'zh-CN', 1, '退款申请 {{ request_id|ref }} 已提交',
  '{%- set digits = 0 if currency in ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"] else 3 if currency in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] else 2 -%}
{%- set unit = 10 ** digits -%}{%- set units = (amount_minor|default(0) // unit)|string -%}
{%- set amount -%}{%- for d in units %}{% if loop.index > 1 and (units|length - loop.index + 1) % 3 == 0 %},{% endif %}{{ d }}{% endfor %}{% if digits %}.{{ ("%0" ~ digits ~ "d")|format(amount_minor|default(0) % unit) }}{% endif -%}{%- endset -%}
您好：

我们已收到您对课程 {{ course_id }} 的退款申请。

申请编号：{{ request_id|ref }}
申请金额：{{ amount }} {{ "元" if currency == "CNY" else currency }}{% if ticket_id %}
相关工单：{{ ticket_id|ref }}{% endif %}

我们将按退费政策尽快处理，结果会以消息和邮件通知您。', NULL),
 ('refund_request_received', 'email', 'en', 1, 'Refund request {{ request_id|ref }} received',
  '{%- set digits = 0 if currency in ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"] else 3 if currency in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] else 2 -%}
{%- set unit = 10 ** digits -%}{%- set units = (amount_minor|default(0) // unit)|string -%}
{%- set amount -%}{%- for d in units %}{% if loop.index > 1 and (units|length - loop.index + 1) % 3 == 0 %},{% endif %}{{ d }}{% endfor %}{% if digits %}.{{ ("%0" ~ digits ~ "d")|format(amount_minor|default(0) % unit) }}{% endif -%}{%- endset -%}
Hello,

We received your refund request for {{ course_id }}.

Request: {{ request_id|ref }}
Amount asked for: {{ amount }} {{ currency }}{% if ticket_id %}
Ticket: {{ ticket_id|ref }}{% endif %}

We will handle it under our refund policy and tell you the outcome by message and email.', NULL),

 -- refund.request.approved: `amount_minor` is the amount approved.
 ('refund_request_approved', 'in_app', 'zh-CN', 1, '退款已批准',
  '{%- set digits = 0 if currency in ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"] else 3 if currency in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] else 2 -%}
{%- set unit = 10 ** digits -%}{%- set units = (amount_minor|default(0) // unit)|string -%}
{%- set amount -%}{%- for d in units %}{% if loop.index > 1 and (units|length - loop.index + 1) % 3 == 0 %},{% endif %}{{ d }}{% endfor %}{% if digits %}.{{ ("%0" ~ digits ~ "d")|format(amount_minor|default(0) % unit) }}{% endif -%}{%- endset -%}
您对课程 {{ course_id }} 的退款申请（编号 {{ request_id|ref }}）已批准，退款金额 {{ amount }} {{ "元" if currency == "CNY" else currency }}。我们将尽快为您办理退款。', NULL),
 ('refund_request_approved', 'in_app', 'en', 1, 'Your refund is approved',
  '{%- set digits = 0 if currency in ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"] else 3 if currency in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] else 2 -%}
{%- set unit = 10 ** digits -%}{%- set units = (amount_minor|default(0) // unit)|string -%}
{%- set amount -%}{%- for d in units %}{% if loop.index > 1 and (units|length - loop.index + 1) % 3 == 0 %},{% endif %}{{ d }}{% endfor %}{% if digits %}.{{ ("%0" ~ digits ~ "d")|format(amount_minor|default(0) % unit) }}{% endif -%}{%- endset -%}
Your refund request {{ request_id|ref }} for {{ course_id }} is approved for {{ amount }} {{ currency }}. We will arrange the payment shortly.', NULL),
 ('refund_request_approved', 'email', 'zh-CN', 1, '退款申请 {{ request_id|ref }} 已批准',
  '{%- set digits = 0 if currency in ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"] else 3 if currency in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] else 2 -%}
{%- set unit = 10 ** digits -%}{%- set units = (amount_minor|default(0) // unit)|string -%}
{%- set amount -%}{%- for d in units %}{% if loop.index > 1 and (units|length - loop.index + 1) % 3 == 0 %},{% endif %}{{ d }}{% endfor %}{% if digits %}.{{ ("%0" ~ digits ~ "d")|format(amount_minor|default(0) % unit) }}{% endif -%}{%- endset -%}
您好：

您对课程 {{ course_id }} 的退款申请已批准。

申请编号：{{ request_id|ref }}
退款金额：{{ amount }} {{ "元" if currency == "CNY" else currency }}{% if ticket_id %}
相关工单：{{ ticket_id|ref }}{% endif %}

我们将尽快为您办理退款。', NULL),
 ('refund_request_approved', 'email', 'en', 1, 'Refund request {{ request_id|ref }} approved',
  '{%- set digits = 0 if currency in ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"] else 3 if currency in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] else 2 -%}
{%- set unit = 10 ** digits -%}{%- set units = (amount_minor|default(0) // unit)|string -%}
{%- set amount -%}{%- for d in units %}{% if loop.index > 1 and (units|length - loop.index + 1) % 3 == 0 %},{% endif %}{{ d }}{% endfor %}{% if digits %}.{{ ("%0" ~ digits ~ "d")|format(amount_minor|default(0) % unit) }}{% endif -%}{%- endset -%}
Hello,

Your refund request for {{ course_id }} is approved.

Request: {{ request_id|ref }}
Refund: {{ amount }} {{ currency }}{% if ticket_id %}
Ticket: {{ ticket_id|ref }}{% endif %}

We will arrange the payment shortly.', NULL),

 -- refund.request.rejected: `note` is the decider's reason.
 ('refund_request_rejected', 'in_app', 'zh-CN', 1, '退款申请未获批准',
  '很抱歉，您对课程 {{ course_id }} 的退款申请（编号 {{ request_id|ref }}）未获批准。{% if note %}
原因：{{ note }}{% endif %}
如有疑问，请在工单中回复或联系客服。', NULL),
 ('refund_request_rejected', 'in_app', 'en', 1, 'Your refund request was not approved',
  'We are sorry: your refund request {{ request_id|ref }} for {{ course_id }} was not approved.{% if note %}
Reason: {{ note }}{% endif %}
If you have questions, reply on your ticket or contact us.', NULL),
 ('refund_request_rejected', 'email', 'zh-CN', 1, '退款申请 {{ request_id|ref }} 未获批准',
  '您好：

很抱歉，您对课程 {{ course_id }} 的退款申请（编号 {{ request_id|ref }}）未获批准。{% if note %}

原因：{{ note }}{% endif %}{% if ticket_id %}

相关工单：{{ ticket_id|ref }}{% endif %}

如有疑问，请联系客服。', NULL),
 ('refund_request_rejected', 'email', 'en', 1, 'Refund request {{ request_id|ref }} not approved',
  'Hello,

We are sorry: your refund request {{ request_id|ref }} for {{ course_id }} was not approved.{% if note %}

Reason: {{ note }}{% endif %}{% if ticket_id %}

Ticket: {{ ticket_id|ref }}{% endif %}

If you have questions, please contact us.', NULL),

 -- refund.request.cancelled: withdrawn before a decision.
 ('refund_request_cancelled', 'in_app', 'zh-CN', 1, '退款申请已撤销',
  '您对课程 {{ course_id }} 的退款申请（编号 {{ request_id|ref }}）已撤销，不会产生退款。如需退款，可随时重新申请。', NULL),
 ('refund_request_cancelled', 'in_app', 'en', 1, 'Refund request withdrawn',
  'Your refund request {{ request_id|ref }} for {{ course_id }} was withdrawn; no refund will be made. You can file a new request at any time.', NULL),
 ('refund_request_cancelled', 'email', 'zh-CN', 1, '退款申请 {{ request_id|ref }} 已撤销',
  '您好：

您对课程 {{ course_id }} 的退款申请（编号 {{ request_id|ref }}）已撤销，不会产生退款。{% if ticket_id %}

相关工单：{{ ticket_id|ref }}{% endif %}

如需退款，可随时重新申请。', NULL),
 ('refund_request_cancelled', 'email', 'en', 1, 'Refund request {{ request_id|ref }} withdrawn',
  'Hello,

Your refund request {{ request_id|ref }} for {{ course_id }} was withdrawn; no refund will be made.{% if ticket_id %}

Ticket: {{ ticket_id|ref }}{% endif %}

You can file a new request at any time.', NULL)
ON CONFLICT DO NOTHING;
