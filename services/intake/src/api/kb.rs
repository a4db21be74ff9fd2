//! `/v1/kb`: the knowledge base, and the customer's verdict on an automatic answer.

use crate::kb_index::KbIndex;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::error::{Problem, Validator};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::tickets::TicketResponse;
use crate::domain::classify::{CATEGORIES, Classifier};
use crate::domain::kb;
use crate::domain::lifecycle::{Action, Status};
use crate::lifecycle::Lifecycle;
use crate::store::{self, kb::ArticleContent, kb::ArticleRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleRequest {
    /// The standard question the article answers.
    #[schema(example = "How do I reset my password?")]
    pub title: String,
    pub body: String,
    /// `zh-CN` or `en`.
    pub language: String,
    /// One of the ticket categories.
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `published` (default) or `archived` (kept, no longer searched or sent).
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArticleResponse {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub language: String,
    pub category: String,
    pub tags: Vec<String>,
    pub version: i32,
    pub status: String,
    /// The resolved ticket this article was written from.
    pub source_ticket_id: Option<Uuid>,
    pub updated_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ArticleRow> for ArticleResponse {
    fn from(a: ArticleRow) -> Self {
        Self {
            id: a.id,
            title: a.title,
            body: a.body,
            language: a.language,
            category: a.category,
            tags: a.tags,
            version: a.version,
            status: a.status,
            source_ticket_id: a.source_ticket_id,
            updated_by: a.created_by,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArticleVersion {
    pub version: i32,
    pub title: String,
    pub body: String,
    pub category: String,
    pub tags: Vec<String>,
    pub edited_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArticleWithHistory {
    #[serde(flatten)]
    pub article: ArticleResponse,
    /// Earlier versions, oldest first.
    pub history: Vec<ArticleVersion>,
}

fn check(r: &ArticleRequest) -> Result<String, ApiError> {
    let mut v = Validator::new();
    v.text(&r.title, "title", 300);
    v.text(&r.body, "body", 50_000);
    v.check(
        ["zh-CN", "en"].contains(&r.language.as_str()),
        "language",
        "must be zh-CN or en",
    );
    v.check(
        CATEGORIES.contains(&r.category.as_str()),
        "category",
        format!("must be one of {}", CATEGORIES.join(", ")),
    );
    v.check(r.tags.len() <= 20, "tags", "at most 20 tags");
    for tag in &r.tags {
        v.check(
            !tag.trim().is_empty() && tag.chars().count() <= 50,
            "tags",
            "each tag 1-50 characters",
        );
    }
    let status = r.status.clone().unwrap_or_else(|| "published".to_owned());
    v.check(
        ["published", "archived"].contains(&status.as_str()),
        "status",
        "must be published or archived",
    );
    v.finish()?;
    Ok(status)
}

fn require_staff(caller: &Principal) -> Result<(), ApiError> {
    caller.require_any(&[Role::Agent, Role::Supervisor, Role::Admin])
}

/// Write an article (staff).
#[utoipa::path(post, path = "/v1/kb/articles", tag = "knowledge base", request_body = ArticleRequest,
    responses((status = 201, body = ArticleResponse), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    caller: Principal,
    platform: web::Data<Platform>,
    classifier: web::Data<Classifier>,
    body: web::Json<ArticleRequest>,
    kb_index: web::Data<KbIndex>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&caller)?;
    check(&body)?;
    let mut tx = platform.pool.begin().await?;
    let row = insert(&mut tx, &classifier, &body, caller.subject, None).await?;
    tx.commit().await?;
    refreshed(&kb_index).await;
    Ok(HttpResponse::Created().json(ArticleResponse::from(row)))
}

/// The article as stored: trimmed text and its segmented words.
fn content<'a>(classifier: &Classifier, r: &'a ArticleRequest) -> ArticleContent<'a> {
    ArticleContent {
        language: &r.language,
        category: &r.category,
        tags: &r.tags,
        title: r.title.trim(),
        body: r.body.trim(),
        title_terms: classifier.terms(&r.title),
        body_terms: classifier.terms(&r.body),
    }
}

async fn insert(
    tx: &mut platform::Tx,
    classifier: &Classifier,
    r: &ArticleRequest,
    by: Uuid,
    source: Option<Uuid>,
) -> Result<ArticleRow, ApiError> {
    Ok(store::kb::insert(tx, &content(classifier, r), by, source).await?)
}

/// Revise an article (staff): the current text is kept as a numbered version.
#[utoipa::path(put, path = "/v1/kb/articles/{article_id}", tag = "knowledge base", params(("article_id" = Uuid, Path)),
    request_body = ArticleRequest,
    responses((status = 200, body = ArticleResponse), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    caller: Principal,
    platform: web::Data<Platform>,
    classifier: web::Data<Classifier>,
    path: web::Path<Uuid>,
    body: web::Json<ArticleRequest>,
    kb_index: web::Data<KbIndex>,
) -> Result<web::Json<ArticleResponse>, ApiError> {
    require_staff(&caller)?;
    let status = check(&body)?;
    let mut tx = platform.pool.begin().await?;
    let row = store::kb::update(
        &mut tx,
        path.into_inner(),
        &content(&classifier, &body),
        &status,
        caller.subject,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("article"))?;
    tx.commit().await?;
    refreshed(&kb_index).await;
    Ok(web::Json(row.into()))
}

/// An article with its earlier versions. Customers see published articles only.
#[utoipa::path(get, path = "/v1/kb/articles/{article_id}", tag = "knowledge base", params(("article_id" = Uuid, Path)),
    responses((status = 200, body = ArticleWithHistory), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<ArticleWithHistory>, ApiError> {
    let id = path.into_inner();
    let row = store::kb::get(&platform.pool, id)
        .await?
        .filter(|a| a.status == "published" || caller.is_staff())
        .ok_or_else(|| ApiError::not_found("article"))?;
    let history = if caller.is_staff() {
        store::kb::versions(&platform.pool, id)
            .await?
            .into_iter()
            .map(|v| ArticleVersion {
                version: v.version,
                title: v.title,
                body: v.body,
                category: v.category,
                tags: v.tags,
                edited_by: v.edited_by,
                created_at: v.created_at,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(web::Json(ArticleWithHistory {
        article: row.into(),
        history,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Free text, Chinese or English.
    pub q: String,
    pub language: Option<String>,
    pub category: Option<String>,
    /// 1-50, default 10.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    pub article: ArticleResponse,
    /// Full-text rank (title words weigh more).
    pub rank: f32,
    /// How well the article answers the query as a question (0-1), and the shared words.
    pub confidence: f64,
    pub matched_terms: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    /// The query's words as segmented.
    pub terms: Vec<String>,
    pub items: Vec<SearchHit>,
}

/// Search published articles, most relevant first (customers and staff).
#[utoipa::path(get, path = "/v1/kb/search", tag = "knowledge base", params(SearchQuery),
    responses((status = 200, body = SearchResponse), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn search(
    _caller: Principal,
    platform: web::Data<Platform>,
    classifier: web::Data<Classifier>,
    query: web::Query<SearchQuery>,
) -> Result<web::Json<SearchResponse>, ApiError> {
    let mut v = Validator::new();
    v.text(&query.q, "q", 500);
    let limit = query.limit.unwrap_or(10);
    v.check((1..=50).contains(&limit), "limit", "must be 1 to 50");
    if let Some(l) = &query.language {
        v.check(["zh-CN", "en"].contains(&l.as_str()), "language", "must be zh-CN or en");
    }
    v.finish()?;
    let terms = classifier.terms(&query.q);
    let rows = store::kb::search(
        &platform.pool,
        &terms,
        query.language.as_deref(),
        query.category.as_deref(),
        limit,
    )
    .await?;
    let items = rows
        .into_iter()
        .map(|(article, rank)| {
            let m = kb::score(&terms, &classifier.terms(&article.title), &article.terms);
            SearchHit {
                article: article.into(),
                rank,
                confidence: m.confidence,
                matched_terms: m.matched_terms,
            }
        })
        .collect();
    Ok(web::Json(SearchResponse { terms, items }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerFeedback {
    /// Did the automatic answer solve it?
    pub solved: bool,
}

/// The customer's verdict on an automatic answer: solved resolves the ticket without a person
/// (a deflection); not solved hands it to a person.
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/answer-feedback", tag = "tickets", params(("ticket_id" = Uuid, Path)),
    request_body = AnswerFeedback,
    responses((status = 200, body = TicketResponse), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The ticket is not waiting for a verdict", body = Problem, content_type = "application/problem+json")))]
pub async fn answer_feedback(
    caller: Principal,
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<Uuid>,
    body: web::Json<AnswerFeedback>,
) -> Result<web::Json<TicketResponse>, ApiError> {
    let mut tx = platform.pool.begin().await?;
    let ticket = store::ticket_for_update(&mut tx, path.into_inner())
        .await?
        .filter(|t| t.customer_id == caller.subject || caller.has(Role::Service))
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    if ticket.status != Status::AutoAnswered.as_str() {
        return Err(ApiError::conflict(
            "not_auto_answered",
            format!(
                "the ticket is {}, not waiting for a verdict on an automatic answer",
                ticket.status
            ),
        ));
    }
    let action = if body.solved { Action::Resolve } else { Action::Queue };
    lifecycle
        .jobs
        .cancel(&mut *tx, crate::lifecycle::ANSWER_TIMEOUT_JOB, &ticket.id.to_string())
        .await?;
    let updated = lifecycle.apply(&mut tx, &ticket, action, caller.subject).await?;
    platform.outbox.commit(tx).await?;
    Ok(web::Json(updated.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleFromTicket {
    /// The standard question; default: the ticket's subject.
    #[serde(default)]
    pub title: Option<String>,
    /// The answer; default: the last public staff message of the ticket.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Turn a resolved ticket's answer into a new article (staff).
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/article", tag = "knowledge base", params(("ticket_id" = Uuid, Path)),
    request_body = ArticleFromTicket,
    responses((status = 201, body = ArticleResponse), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not resolved, or no staff answer to use", body = Problem, content_type = "application/problem+json")))]
pub async fn article_from_ticket(
    caller: Principal,
    platform: web::Data<Platform>,
    classifier: web::Data<Classifier>,
    path: web::Path<Uuid>,
    body: web::Json<ArticleFromTicket>,
    kb_index: web::Data<KbIndex>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&caller)?;
    let ticket = store::ticket(&platform.pool, path.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    if !["resolved", "closed"].contains(&ticket.status.as_str()) {
        return Err(ApiError::conflict(
            "ticket_not_resolved",
            "only a resolved ticket's answer becomes an article",
        ));
    }
    let answer = match &body.body {
        Some(b) => Some(b.clone()),
        None => store::messages(&platform.pool, ticket.id, false)
            .await?
            .into_iter()
            .rev()
            .find(|m| m.author_role == "agent")
            .map(|m| m.body),
    }
    .ok_or_else(|| ApiError::conflict("no_answer", "the ticket has no public staff answer; give the body"))?;
    let request = ArticleRequest {
        title: body.title.clone().unwrap_or_else(|| ticket.subject.clone()),
        body: answer,
        language: ticket.language.clone(),
        category: ticket.category.clone(),
        tags: body.tags.clone(),
        status: None,
    };
    check(&request)?;
    let mut tx = platform.pool.begin().await?;
    let row = insert(&mut tx, &classifier, &request, caller.subject, Some(ticket.id)).await?;
    tx.commit().await?;
    refreshed(&kb_index).await;
    Ok(HttpResponse::Created().json(ArticleResponse::from(row)))
}

/// After an article changed here: new tickets on this replica are answered from it at once.
async fn refreshed(kb_index: &KbIndex) {
    if let Err(e) = kb_index.refresh().await {
        tracing::warn!(error = %e, "reloading the knowledge base for answering failed; the next check retries");
    }
}
