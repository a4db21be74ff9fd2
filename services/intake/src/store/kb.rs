//! Knowledge-base articles: versioned, indexed for full-text search over segmented words.

use chrono::{DateTime, Utc};
use contracts::{ArticleId, TicketId};
use platform::Tx;

use crate::domain::kb::{ArticleStatus, ArticleText};
use crate::store::StatusText;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArticleRow {
    pub id: ArticleId,
    pub language: String,
    pub category: String,
    pub tags: Vec<String>,
    pub title: String,
    pub body: String,
    pub version: i32,
    #[sqlx(try_from = "StatusText")]
    pub status: ArticleStatus,
    pub terms: Vec<String>,
    pub source_ticket_id: Option<TicketId>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, language, category, tags, title, body, version, status, terms, source_ticket_id, created_by, created_at, updated_at";

/// An article's text (trimmed) with its segmented words.
pub struct ArticleContent<'a> {
    pub text: ArticleText<'a>,
    pub title_terms: Vec<String>,
    pub body_terms: Vec<String>,
}

impl ArticleContent<'_> {
    /// What the title weight (A) indexes: the title's words and the tags.
    fn title_text(&self) -> String {
        format!(
            "{} {}",
            self.title_terms.join(" "),
            self.text.tags.join(" ").to_lowercase()
        )
    }

    fn body_text(&self) -> String {
        self.body_terms.join(" ")
    }

    fn all_terms(&self) -> Vec<String> {
        let mut all: Vec<String> = self.title_terms.iter().chain(&self.body_terms).cloned().collect();
        all.sort();
        all.dedup();
        all
    }
}

/// The search vector: title words weigh more (A) than body words (B); tags count as title.
const SEARCH: &str = "setweight(to_tsvector('simple', $7), 'A') || setweight(to_tsvector('simple', $8), 'B')";

type ArticleQuery<'q, O> = sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>;

/// Binds the article `id` and `a` as `$1` to `$9`: id, language, category, tags, title, body,
/// the title and body text [`SEARCH`] indexes, and all its words.
fn bind_content<'q, O>(q: ArticleQuery<'q, O>, id: ArticleId, a: &'q ArticleContent<'_>) -> ArticleQuery<'q, O> {
    q.bind(id)
        .bind(a.text.language)
        .bind(a.text.category)
        .bind(a.text.tags)
        .bind(a.text.title)
        .bind(a.text.body)
        .bind(a.title_text())
        .bind(a.body_text())
        .bind(a.all_terms())
}

pub async fn insert(
    tx: &mut Tx,
    a: &ArticleContent<'_>,
    created_by: Uuid,
    source_ticket_id: Option<TicketId>,
) -> Result<ArticleRow, sqlx::Error> {
    let sql = format!(
        "INSERT INTO kb_article (id, language, category, tags, title, body, terms, search, created_by, source_ticket_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $9, {SEARCH}, $10, $11) RETURNING {COLUMNS}"
    );
    bind_content(sqlx::query_as(&sql), ArticleId::new(), a)
        .bind(created_by)
        .bind(source_ticket_id)
        .fetch_one(&mut **tx)
        .await
}

/// Saves the current version into the history and replaces it with `a` as version + 1;
/// `None` when there is no such article.
pub async fn update(
    tx: &mut Tx,
    id: ArticleId,
    a: &ArticleContent<'_>,
    status: ArticleStatus,
    edited_by: Uuid,
) -> Result<Option<ArticleRow>, sqlx::Error> {
    let saved = sqlx::query(
        "INSERT INTO kb_article_version (article_id, version, title, body, category, tags, edited_by, created_at) \
         SELECT id, version, title, body, category, tags, created_by, updated_at FROM kb_article WHERE id = $1",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if saved == 0 {
        return Ok(None);
    }
    let sql = format!(
        "UPDATE kb_article SET language = $2, category = $3, tags = $4, title = $5, body = $6, terms = $9, \
            search = {SEARCH}, status = $10, created_by = $11, version = version + 1, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    bind_content(sqlx::query_as(&sql), id, a)
        .bind(status.as_str())
        .bind(edited_by)
        .fetch_optional(&mut **tx)
        .await
}

pub async fn get(pool: &PgPool, id: ArticleId) -> Result<Option<ArticleRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM kb_article WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub version: i32,
    pub title: String,
    pub body: String,
    pub category: String,
    pub tags: Vec<String>,
    pub edited_by: Uuid,
    pub created_at: DateTime<Utc>,
}

pub async fn versions(pool: &PgPool, id: ArticleId) -> Result<Vec<VersionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, title, body, category, tags, edited_by, created_at FROM kb_article_version \
         WHERE article_id = $1 ORDER BY version",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// Published articles matching any of `terms`, most relevant first (`ts_rank_cd`).
pub async fn search<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    terms: &[String],
    language: Option<&str>,
    category: Option<&str>,
    limit: i64,
) -> Result<Vec<(ArticleRow, f32)>, sqlx::Error> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let query = terms.join(" OR ");
    let rows: Vec<ArticleWithRank> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, ts_rank_cd(search, q) AS rank \
         FROM kb_article, websearch_to_tsquery('simple', $1) AS q \
         WHERE status = 'published' AND search @@ q \
           AND ($2::text IS NULL OR language = $2) AND ($3::text IS NULL OR category = $3) \
         ORDER BY rank DESC, updated_at DESC LIMIT $4"
    ))
    .bind(query)
    .bind(language)
    .bind(category)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(|r| (r.article, r.rank)).collect())
}

#[derive(sqlx::FromRow)]
struct ArticleWithRank {
    #[sqlx(flatten)]
    article: ArticleRow,
    rank: f32,
}

/// (newest change, count) of the published articles: it moves whenever one is published,
/// changed or archived.
pub async fn published_version(pool: &PgPool) -> Result<(Option<DateTime<Utc>>, i64), sqlx::Error> {
    sqlx::query_as("SELECT max(updated_at), count(*) FROM kb_article WHERE status = 'published'")
        .fetch_one(pool)
        .await
}

/// Every published article's id, language, title and words, most recently changed first.
pub async fn published_terms(pool: &PgPool) -> Result<Vec<(ArticleId, String, String, Vec<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, language, title, terms FROM kb_article WHERE status = 'published' ORDER BY updated_at DESC, id",
    )
    .fetch_all(pool)
    .await
}

/// An article's text.
pub async fn body(tx: &mut Tx, id: ArticleId) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT body FROM kb_article WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await
}

/// The titles of the articles among `ids`.
pub async fn titles(pool: &PgPool, ids: &[ArticleId]) -> Result<Vec<(ArticleId, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, title FROM kb_article WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(pool)
        .await
}
