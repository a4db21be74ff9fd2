//! Knowledge-base articles: versioned, indexed for full-text search over segmented words.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArticleRow {
    pub id: Uuid,
    pub language: String,
    pub category: String,
    pub tags: Vec<String>,
    pub title: String,
    pub body: String,
    pub version: i32,
    pub status: String,
    pub terms: Vec<String>,
    pub source_ticket_id: Option<Uuid>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, language, category, tags, title, body, version, status, terms, source_ticket_id, created_by, created_at, updated_at";

/// An article's content with its segmented words.
pub struct ArticleContent<'a> {
    pub language: &'a str,
    pub category: &'a str,
    pub tags: &'a [String],
    pub title: &'a str,
    pub body: &'a str,
    pub title_terms: Vec<String>,
    pub body_terms: Vec<String>,
}

impl ArticleContent<'_> {
    /// What the title weight (A) indexes: the title's words and the tags.
    fn title_text(&self) -> String {
        format!("{} {}", self.title_terms.join(" "), self.tags.join(" ").to_lowercase())
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

pub async fn insert(
    tx: &mut Tx,
    a: &ArticleContent<'_>,
    created_by: Uuid,
    source_ticket_id: Option<Uuid>,
) -> Result<ArticleRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO kb_article (id, language, category, tags, title, body, terms, search, created_by, source_ticket_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $9, {SEARCH}, $10, $11) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(a.language)
    .bind(a.category)
    .bind(a.tags)
    .bind(a.title)
    .bind(a.body)
    .bind(a.title_text())
    .bind(a.body_text())
    .bind(a.all_terms())
    .bind(created_by)
    .bind(source_ticket_id)
    .fetch_one(&mut **tx)
    .await
}

/// Saves the current version into the history and replaces it with `a` as version + 1;
/// `None` when there is no such article.
pub async fn update(
    tx: &mut Tx,
    id: Uuid,
    a: &ArticleContent<'_>,
    status: &str,
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
    sqlx::query_as(&format!(
        "UPDATE kb_article SET language = $2, category = $3, tags = $4, title = $5, body = $6, terms = $9, \
            search = {SEARCH}, status = $10, created_by = $11, version = version + 1, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(a.language)
    .bind(a.category)
    .bind(a.tags)
    .bind(a.title)
    .bind(a.body)
    .bind(a.title_text())
    .bind(a.body_text())
    .bind(a.all_terms())
    .bind(status)
    .bind(edited_by)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<ArticleRow>, sqlx::Error> {
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

pub async fn versions(pool: &PgPool, id: Uuid) -> Result<Vec<VersionRow>, sqlx::Error> {
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
