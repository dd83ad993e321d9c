//! What the web console reads beyond the API: when versions were made.

use async_trait::async_trait;

use crate::error::Result;

#[async_trait]
pub trait BrowseStore: Send + Sync + 'static {
    /// `(version, created_at ms)` of every version of a qualified subject, ascending.
    async fn version_dates(&self, subject: &str) -> Result<Vec<(i32, i64)>>;
}

/// Implements [`BrowseStore`] for a backend, beside `sql_store!`.
macro_rules! browse_store {
    ($store:ty) => {
        const _: () = {
            #[async_trait::async_trait]
            impl $crate::store::browse::BrowseStore for $store {
                #[tracing::instrument(name = "store.version_dates", skip_all, fields(db.system = DB_SYSTEM))]
                async fn version_dates(&self, subject: &str) -> $crate::error::Result<Vec<(i32, i64)>> {
                    Ok(sqlx::query_as("SELECT version, created_at FROM versions WHERE subject = $1 ORDER BY version")
                        .bind(subject)
                        .fetch_all(&mut *self.acquire().await?)
                        .await?)
                }
            }
        };
    };
}

pub(super) use browse_store;
