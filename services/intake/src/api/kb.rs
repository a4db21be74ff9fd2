//! `/v1/kb`: the knowledge base, and the customer's verdict on an automatic answer.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use contracts::ArticleId;
use platform::auth::Principal;
use platform::error::{Problem, Validator};
use platform::problems::{NotFound, Unprocessable};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::common::TicketResponse;
use crate::core::articles::Articles;
use crate::core::lifecycle::Lifecycle;
use crate::core::thread;
use crate::domain::classify::{CATEGORIES, Classifier};
use crate::domain::kb::{self, ArticleStatus, ArticleText};
use crate::domain::lifecycle::Status;
use crate::store::{self, kb::ArticleRow};

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
            id: a.id.into(),
            title: a.title,
            body: a.body,
            language: a.language,
            category: a.category,
            tags: a.tags,
            version: a.version,
            status: a.status.as_str().to_owned(),
            source_ticket_id: a.source_ticket_id.map(Into::into),
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

fn check(r: &ArticleRequest) -> Result<ArticleStatus, ApiError> {
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
    let status = r
        .status
        .as_deref()
        .map_or(Some(ArticleStatus::Published), ArticleStatus::parse);
    v.check(status.is_some(), "status", "must be published or archived");
    v.finish()?;
    Ok(status.unwrap_or(ArticleStatus::Published))
}

/// Write an article (the desk).
#[utoipa::path(post, path = "/v1/kb/articles", tag = "knowledge base", request_body = ArticleRequest,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 201, body = ArticleResponse)))]
pub async fn create_article(
    caller: Principal,
    articles: web::Data<Articles>,
    body: web::Json<ArticleRequest>,
) -> Result<HttpResponse, ApiError> {
    check(&body)?;
    let row = articles.write(&text(&body), caller.subject, None).await?;
    Ok(HttpResponse::Created().json(ArticleResponse::from(row)))
}

/// The article's text as the request gives it.
fn text(r: &ArticleRequest) -> ArticleText<'_> {
    ArticleText {
        language: &r.language,
        category: &r.category,
        tags: &r.tags,
        title: &r.title,
        body: &r.body,
    }
}

/// Revise an article (the desk): the current text is kept as a numbered version.
#[utoipa::path(put, path = "/v1/kb/articles/{article_id}", tag = "knowledge base", params(("article_id" = Uuid, Path)),
    request_body = ArticleRequest,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = ArticleResponse), NotFound))]
pub async fn update(
    caller: Principal,
    articles: web::Data<Articles>,
    path: web::Path<Uuid>,
    body: web::Json<ArticleRequest>,
) -> Result<web::Json<ArticleResponse>, ApiError> {
    let status = check(&body)?;
    let row = articles
        .revise(path.into_inner().into(), &text(&body), status, caller.subject)
        .await?;
    Ok(web::Json(row.into()))
}

/// An article; the desk sees its earlier versions and archived articles too. Customers and
/// services (`kb:read`) see published articles only.
#[utoipa::path(get, path = "/v1/kb/articles/{article_id}", tag = "knowledge base", params(("article_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "kb:read"])),
    responses((status = 200, body = ArticleWithHistory), NotFound))]
pub async fn get_article(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<ArticleWithHistory>, ApiError> {
    let id = ArticleId::from(path.into_inner());
    let row = store::kb::get(&platform.pool, id)
        .await?
        .filter(|a| a.status == ArticleStatus::Published || caller.is_desk())
        .ok_or_else(|| ApiError::not_found("article"))?;
    let history = if caller.is_desk() {
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

/// Search published articles, most relevant first (customers, the desk, services with
/// `kb:read`).
#[utoipa::path(get, path = "/v1/kb/search", tag = "knowledge base", params(SearchQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "kb:read"])),
    responses((status = 200, body = SearchResponse), Unprocessable))]
pub async fn search(
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
/// (a deflection); not solved hands it to a person. Only the ticket's customer, or a service
/// with `tickets:write`, gives it: anyone else's call is a 404.
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/answer-feedback", tag = "tickets", params(("ticket_id" = Uuid, Path)),
    request_body = AnswerFeedback,
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "tickets:write"])),
    responses((status = 200, body = TicketResponse), NotFound,
              (status = 409, description = "The ticket is not waiting for a verdict", body = Problem, content_type = "application/problem+json")))]
pub async fn answer_feedback(
    caller: Principal,
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<Uuid>,
    body: web::Json<AnswerFeedback>,
) -> Result<web::Json<TicketResponse>, ApiError> {
    let updated = thread::answer_verdict(&platform, &lifecycle, &caller, path.into_inner().into(), body.solved).await?;
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

/// Turn a resolved ticket's answer into a new article (the desk).
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/article", tag = "knowledge base", params(("ticket_id" = Uuid, Path)),
    request_body = ArticleFromTicket,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 201, body = ArticleResponse), NotFound,
              (status = 409, description = "Not resolved, or no staff answer to use", body = Problem, content_type = "application/problem+json")))]
pub async fn article_from_ticket(
    caller: Principal,
    platform: web::Data<Platform>,
    articles: web::Data<Articles>,
    path: web::Path<Uuid>,
    body: web::Json<ArticleFromTicket>,
) -> Result<HttpResponse, ApiError> {
    let ticket = store::ticket(&platform.pool, path.into_inner().into())
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    if ![Status::Resolved, Status::Closed].contains(&ticket.status) {
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
    let row = articles.write(&text(&request), caller.subject, Some(ticket.id)).await?;
    Ok(HttpResponse::Created().json(ArticleResponse::from(row)))
}
