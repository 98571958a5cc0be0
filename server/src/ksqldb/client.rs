//! The ksqlDB REST client: statements (`/ksql`), pull and push queries (`/query-stream`),
//! closing a push query (`/close-query`) and readiness (`/healthcheck`).
//!
//! HTTP version: the documentation of `/query-stream` says "These endpoints are only
//! available when using HTTP 2", so this client speaks HTTP/2 only, over cleartext with
//! prior knowledge (h2c), as a plain `http://` ksqlDB listener expects. HTTP/2 keep-alive
//! pings detect a dead or hung connection under a push query, which is quiet whenever
//! the table is: a ping unanswered within half the upstream timeout, sent after the other
//! half of quiet, fails the connection and so the push query.

use std::collections::VecDeque;
use std::time::Duration;

use app::model::VehiclePosition;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Response, StatusCode, Url};
use serde::Serialize;

use super::framing::{DelimitedDecoder, Frame, FramingError, Header, ServerError, parse_document};
use super::row::{Columns, RowError};

const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";
/// A pull query answers from the table's state store; longer than this means trouble, and
/// the click that waits for it should get an answer.
const PULL_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Creating streams and tables starts Kafka Streams topologies: slower than a query, but
/// a statement that takes longer than this is stuck.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// A full table scan at HSL's peak is well under 2 MB; a pull answer far larger than that
/// is not our table, and is refused rather than held in memory.
const MAX_PULL_BYTES: usize = 64 * 1024 * 1024;

/// Why a ksqlDB call failed.
#[derive(Debug, thiserror::Error)]
pub enum KsqlError {
    #[error("cannot reach ksqlDB: {0}")]
    Transport(#[from] reqwest::Error),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("ksqlDB answered HTTP {status}: {body}")]
    Status { status: StatusCode, body: String },
    #[error("unreadable ksqlDB response: {0}")]
    Framing(#[from] FramingError),
    #[error("the query result does not fit the vehicle table: {0}")]
    Columns(#[from] RowError),
    #[error("the response ended before its header")]
    NoHeader,
    #[error("the pull query answer exceeds {MAX_PULL_BYTES} bytes")]
    TooLarge,
    #[error("ksqlDB did not start answering within {PULL_TIMEOUT:?}")]
    Timeout,
    #[error("{0} is not a ksqlDB base URL (http://host:port)")]
    BadUrl(String),
}

impl KsqlError {
    /// A stable label for `/metrics`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Transport(error) if error.is_timeout() => "timeout",
            Self::Transport(_) => "transport",
            Self::Server(_) => "server_error",
            Self::Status { .. } => "http_status",
            Self::Framing(_) | Self::NoHeader => "framing",
            Self::Columns(_) => "columns",
            Self::TooLarge => "too_large",
            Self::Timeout => "timeout",
            Self::BadUrl(_) => "bad_url",
        }
    }
}

/// A row of a query result: a position, or a row that could not be used (counted by the
/// caller, never fatal).
pub type RowResult = Result<VehiclePosition, RowError>;

#[derive(Serialize)]
struct QueryRequest<'a> {
    sql: &'a str,
    properties: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct StatementRequest<'a> {
    ksql: &'a str,
    #[serde(rename = "streamsProperties")]
    streams_properties: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CloseRequest<'a> {
    query_id: &'a str,
}

/// One ksqlDB server. Cheap to clone: clones share the HTTP/2 connection.
#[derive(Debug, Clone)]
pub struct KsqlClient {
    http: reqwest::Client,
    base: Url,
}

impl KsqlClient {
    /// A client of the ksqlDB at `base` that gives up on a connection silent for
    /// `hang_timeout` (the server's `--upstream-timeout-secs`).
    pub fn new(base: &str, hang_timeout: Duration) -> Result<Self, KsqlError> {
        let base = Url::parse(base)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
            .ok_or_else(|| KsqlError::BadUrl(base.to_owned()))?;
        let http = reqwest::Client::builder()
            .http2_prior_knowledge()
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(hang_timeout / 2)
            .http2_keep_alive_timeout(hang_timeout / 2)
            .http2_keep_alive_while_idle(true)
            .build()?;
        Ok(Self { http, base })
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(path);
        url
    }

    /// Runs statements (`CREATE ... IF NOT EXISTS ...;`).
    pub async fn execute(&self, statements: &str) -> Result<(), KsqlError> {
        let body = StatementRequest { ksql: statements, streams_properties: Default::default() };
        let response = self
            .http
            .post(self.url("/ksql"))
            .timeout(STATEMENT_TIMEOUT)
            .header(ACCEPT, "application/vnd.ksql.v1+json")
            .json(&body)
            .send()
            .await?;
        check(response).await.map(drop)
    }

    /// Whether ksqlDB reports itself healthy (`GET /healthcheck`).
    pub async fn is_healthy(&self) -> Result<bool, KsqlError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Health {
            is_healthy: bool,
        }
        let response = self.http.get(self.url("/healthcheck")).timeout(PULL_TIMEOUT).send().await?;
        let body = check(response).await?.bytes().await?;
        Ok(serde_json::from_slice::<Health>(&body).is_ok_and(|health| health.is_healthy))
    }

    /// Runs a pull query and returns its rows.
    pub async fn pull(&self, sql: &str) -> Result<Vec<RowResult>, KsqlError> {
        let mut response = check(self.query(sql).timeout(PULL_TIMEOUT).send().await?).await?;
        let mut frames = Vec::new();
        let mut decoder = DelimitedDecoder::new();
        let mut received = 0;
        while let Some(chunk) = response.chunk().await? {
            received += chunk.len();
            if received > MAX_PULL_BYTES {
                return Err(KsqlError::TooLarge);
            }
            decoder.push(&chunk, &mut frames)?;
        }
        decoder.finish(&mut frames)?;
        let mut frames = frames.into_iter();
        let columns = match frames.next() {
            Some(Frame::Header(header)) => Columns::from_header(&header)?,
            Some(Frame::Error(error)) => return Err(error.into()),
            _ => return Err(KsqlError::NoHeader),
        };
        let mut rows = Vec::new();
        for frame in frames {
            match frame {
                Frame::Row(row) => rows.push(columns.position(&row)),
                Frame::Error(error) => return Err(error.into()),
                Frame::Header(_) => return Err(FramingError::SecondHeader.into()),
            }
        }
        Ok(rows)
    }

    /// Starts a push query; rows come from [`PushQuery::next`].
    pub async fn push(&self, sql: &str) -> Result<PushQuery, KsqlError> {
        // Only the start is bounded: the stream itself lasts as long as the query.
        let sent = tokio::time::timeout(PULL_TIMEOUT, self.query(sql).send())
            .await
            .map_err(|_| KsqlError::Timeout)??;
        let response = check(sent).await?;
        let mut query = PushQuery {
            query_id: None,
            columns: None,
            response,
            decoder: DelimitedDecoder::new(),
            frames: VecDeque::new(),
            ended: false,
        };
        let header = tokio::time::timeout(PULL_TIMEOUT, query.header())
            .await
            .map_err(|_| KsqlError::Timeout)??;
        query.query_id = header.query_id.clone();
        query.columns = Some(Columns::from_header(&header)?);
        Ok(query)
    }

    /// Ends a push query on the server.
    pub async fn close_query(&self, query_id: &str) -> Result<(), KsqlError> {
        let response = self
            .http
            .post(self.url("/close-query"))
            .timeout(PULL_TIMEOUT)
            .json(&CloseRequest { query_id })
            .send()
            .await?;
        check(response).await.map(drop)
    }

    fn query(&self, sql: &str) -> reqwest::RequestBuilder {
        let body = QueryRequest { sql, properties: Default::default() };
        self.http
            .post(self.url("/query-stream"))
            .header(ACCEPT, DELIMITED)
            .header(CONTENT_TYPE, "application/json")
            .json(&body)
    }
}

/// A successful response, or the error its body describes.
async fn check(response: Response) -> Result<Response, KsqlError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await?;
    if let Ok(frames) = parse_document(&body)
        && let Some(Frame::Error(error)) = frames.into_iter().next()
    {
        return Err(error.into());
    }
    let mut text = String::from_utf8_lossy(&body).into_owned();
    text.truncate(300);
    Err(KsqlError::Status { status, body: text })
}

/// A running push query.
pub struct PushQuery {
    /// Needed to close the query; ksqlDB sends it in the header of push queries.
    pub query_id: Option<String>,
    columns: Option<Columns>,
    response: Response,
    decoder: DelimitedDecoder,
    frames: VecDeque<Frame>,
    ended: bool,
}

impl PushQuery {
    /// The next row, or `None` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<RowResult>, KsqlError> {
        match self.next_frame().await? {
            None => Ok(None),
            Some(Frame::Row(row)) => {
                let columns = self.columns.as_ref().ok_or(KsqlError::NoHeader)?;
                Ok(Some(columns.position(&row)))
            }
            Some(Frame::Error(error)) => Err(error.into()),
            Some(Frame::Header(_)) => Err(FramingError::SecondHeader.into()),
        }
    }

    async fn header(&mut self) -> Result<Header, KsqlError> {
        match self.next_frame().await? {
            Some(Frame::Header(header)) => Ok(header),
            Some(Frame::Error(error)) => Err(error.into()),
            _ => Err(KsqlError::NoHeader),
        }
    }

    async fn next_frame(&mut self) -> Result<Option<Frame>, KsqlError> {
        loop {
            if let Some(frame) = self.frames.pop_front() {
                return Ok(Some(frame));
            }
            if self.ended {
                return Ok(None);
            }
            let mut out = Vec::new();
            match self.response.chunk().await? {
                Some(chunk) => self.decoder.push(&chunk, &mut out)?,
                None => {
                    self.ended = true;
                    self.decoder.finish(&mut out)?;
                }
            }
            self.frames.extend(out);
        }
    }
}
