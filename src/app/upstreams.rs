//! An upstream index as the app uses it: its simple URL, freshness policy and
//! credentials, and how to ask it for pages.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use url::Url;

use crate::auth::basic;
use crate::config::UpstreamConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::model::UpstreamName;

/// What larder asks upstreams for: JSON first, HTML as the fallback.
const PAGE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, \
     application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: UpstreamName,
    /// The simple URL, ending in `/`.
    pub url: Url,
    pub page_ttl: Duration,
    pub max_stale: Duration,
    authorization: Option<HeaderValue>,
}

impl Upstream {
    pub(crate) fn new(config: &UpstreamConfig) -> Result<Self> {
        let name = UpstreamName::new(&config.name)
            .map_err(|e| Error::new(ErrorKind::Config, format!("upstream name: {e}")))?;
        let authorization = config.username.as_ref().and_then(|user| {
            let password = config.password.as_ref().map_or("", |p| p.expose());
            let mut value = HeaderValue::from_str(&basic::header_value(user, password)).ok()?;
            value.set_sensitive(true);
            Some(value)
        });
        Ok(Self {
            name,
            url: config.url.clone(),
            page_ttl: config.page_ttl,
            max_stale: config.max_stale,
            authorization,
        })
    }

    /// The page URL of a (normalized) project.
    pub(crate) fn project_url(&self, project: &str) -> Option<Url> {
        self.url.join(&format!("{project}/")).ok()
    }

    /// Headers for a page request.
    pub(crate) fn page_headers(&self) -> HeaderMap {
        let mut headers = self.file_headers();
        headers.insert(ACCEPT, HeaderValue::from_static(PAGE_ACCEPT));
        headers
    }

    /// Headers for a file request: credentials only for the upstream's own
    /// host, so they never leak to a CDN a page points at.
    pub(crate) fn headers_for(&self, url: &Url) -> HeaderMap {
        if url.host_str() == self.url.host_str()
            && url.port_or_known_default() == self.url.port_or_known_default()
        {
            self.file_headers()
        } else {
            HeaderMap::new()
        }
    }

    fn file_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = &self.authorization {
            headers.insert(AUTHORIZATION, value.clone());
        }
        headers
    }
}
