//! Writing knowledge-base articles: stored with their segmented words (for full-text search
//! and for answering tickets), and this replica's index reloaded at once so new tickets here
//! are answered from them (other replicas see them at their next check).

use contracts::{ArticleId, TicketId};
use platform::{ApiError, Platform};
use uuid::Uuid;

use crate::core::kb_index::KbIndex;
use crate::domain::classify::Classifier;
use crate::domain::kb::{ArticleStatus, ArticleText};
use crate::store::{self, kb::ArticleContent, kb::ArticleRow};

/// The knowledge base as writers change it. Cheap to clone.
#[derive(Clone)]
pub struct Articles {
    pub platform: Platform,
    pub classifier: std::sync::Arc<Classifier>,
    pub index: KbIndex,
}

impl Articles {
    /// Publishes a new article `by` a member of staff, written from `source` when a resolved
    /// ticket's answer became it.
    pub async fn write(&self, a: &ArticleText<'_>, by: Uuid, source: Option<TicketId>) -> Result<ArticleRow, ApiError> {
        let mut tx = self.platform.pool.begin().await?;
        let row = store::kb::insert(&mut tx, &self.content(a), by, source).await?;
        tx.commit().await?;
        self.reload().await;
        Ok(row)
    }

    /// Revises an article: the current text is kept as a numbered version; 404 when there is
    /// no such article.
    pub async fn revise(
        &self,
        id: ArticleId,
        a: &ArticleText<'_>,
        status: ArticleStatus,
        by: Uuid,
    ) -> Result<ArticleRow, ApiError> {
        let mut tx = self.platform.pool.begin().await?;
        let row = store::kb::update(&mut tx, id, &self.content(a), status, by)
            .await?
            .ok_or_else(|| ApiError::not_found("article"))?;
        tx.commit().await?;
        self.reload().await;
        Ok(row)
    }

    /// The article as stored: trimmed text and its segmented words.
    fn content<'a>(&self, a: &ArticleText<'a>) -> ArticleContent<'a> {
        ArticleContent {
            text: ArticleText {
                title: a.title.trim(),
                body: a.body.trim(),
                ..*a
            },
            title_terms: self.classifier.terms(a.title),
            body_terms: self.classifier.terms(a.body),
        }
    }

    /// After an article changed here: new tickets on this replica are answered from it at once.
    async fn reload(&self) {
        if let Err(e) = self.index.refresh().await {
            tracing::warn!(error = %e, "reloading the knowledge base for answering failed; the next check retries");
        }
    }
}
