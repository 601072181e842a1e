//! A distribution-spec v2 registry as an image store: the `/v2/` probe,
//! anonymous, Basic and Bearer token auth (credentials from a docker-style
//! config.json), manifests by tag or digest with the OCI and Docker media
//! types, and blobs streamed and checked. Requests are retried with backoff
//! on 5xx, 429 and broken connections; redirects never carry credentials to
//! another host; the environment's proxy is used (see `proxy`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::Value;

use crate::platform::{self, INDEX_TYPES, MANIFEST_TYPES};
use crate::reference::RegistryRef;
use crate::source::{digest_of, Image, Source, Verified};

const ATTEMPTS: u32 = 4;
const MANIFEST_LIMIT: u64 = 4 << 20;

/// How to reach registries: where credentials and extra CA certificates are.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A docker-style config.json; None: the usual places.
    pub authfile: Option<PathBuf>,
    /// Docker's certs.d layout: DIR/HOST[:PORT]/*.crt are trusted for HOST.
    pub certs_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
enum Auth {
    Anonymous,
    Basic,
    Bearer(String),
}

pub struct Registry {
    agent: ureq::Agent,
    /// scheme://host[:port]
    base: String,
    reference: RegistryRef,
    creds: Option<(String, String)>,
    auth: Mutex<Auth>,
}

/// The name or address in `host`: host, host:port, [v6] or [v6]:port.
pub(crate) fn host_name(host: &str) -> &str {
    match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let h = host_name(host);
    h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The system's CAs plus those certs.d has for this host.
fn tls_config(host: &str, certs_dir: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let mut files = vec![PathBuf::from("/etc/ssl/certs/ca-certificates.crt")];
    let dir = certs_dir.unwrap_or(Path::new("/etc/hull/certs.d")).join(host);
    if let Ok(rd) = std::fs::read_dir(&dir) {
        files.extend(
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "crt")),
        );
    }
    for f in files {
        let Ok(data) = std::fs::read(&f) else { continue };
        for cert in rustls_pemfile::certs(&mut &data[..]) {
            let cert = cert.with_context(|| format!("{}: not PEM certificates", f.display()))?;
            // A system bundle may hold a certificate rustls cannot use; skip it.
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// user and password for `host` from a docker-style config.json.
fn credentials(host: &str, authfile: Option<&Path>) -> Result<Option<(String, String)>> {
    let env = |k: &str| std::env::var_os(k).map(PathBuf::from);
    let candidates: Vec<PathBuf> = match authfile {
        Some(f) => vec![f.to_path_buf()],
        None => [
            env("REGISTRY_AUTH_FILE"),
            env("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")),
            env("DOCKER_CONFIG").map(|d| d.join("config.json")),
            env("HOME").map(|d| d.join(".docker/config.json")),
        ]
        .into_iter()
        .flatten()
        .collect(),
    };
    for f in candidates {
        let data = match std::fs::read(&f) {
            Ok(d) => d,
            Err(_) if authfile.is_none() => continue,
            Err(e) => return Err(e).with_context(|| format!("--authfile {}: cannot read", f.display())),
        };
        let doc: Value = serde_json::from_slice(&data).with_context(|| format!("{}: not JSON", f.display()))?;
        let auths = &doc["auths"];
        let keys = [
            host.to_string(),
            format!("https://{host}"),
            format!("http://{host}"),
            format!("https://{host}/v1/"),
            format!("https://{host}/v2/"),
        ];
        let docker_hub = (host == "registry-1.docker.io").then_some("https://index.docker.io/v1/");
        let Some(entry) = keys
            .iter()
            .map(String::as_str)
            .chain(docker_hub)
            .map(|k| &auths[k])
            .find(|e| e.is_object())
        else {
            continue;
        };
        if let (Some(u), Some(p)) = (entry["username"].as_str(), entry["password"].as_str()) {
            return Ok(Some((u.into(), p.into())));
        }
        let b64 = entry["auth"].as_str().unwrap_or_default();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .with_context(|| format!("{}: auths.{host}.auth is not base64", f.display()))?;
        let text =
            String::from_utf8(raw).with_context(|| format!("{}: auths.{host}.auth is not UTF-8", f.display()))?;
        let (u, p) = text
            .split_once(':')
            .with_context(|| format!("{}: auths.{host}.auth is not user:password", f.display()))?;
        return Ok(Some((u.into(), p.into())));
    }
    Ok(None)
}

/// `Bearer realm="...",service="...",scope="..."` -> its parameters.
fn challenge(header: &str) -> (String, Vec<(String, String)>) {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let mut params = vec![];
    let mut rest = rest.trim();
    while let Some((k, v)) = rest.split_once('=') {
        let k = k.trim().trim_start_matches(',').trim().to_string();
        let (value, tail) = match v.strip_prefix('"') {
            Some(q) => q.split_once('"').unwrap_or((q, "")),
            None => v.split_once(',').unwrap_or((v, "")),
        };
        params.push((k, value.to_string()));
        rest = tail.trim_start_matches(',').trim();
    }
    (scheme.to_ascii_lowercase(), params)
}

fn status_error(url: &str, code: u16, resp: ureq::Response) -> anyhow::Error {
    let mut body = String::new();
    let _ = resp.into_reader().take(512).read_to_string(&mut body);
    anyhow::anyhow!("GET {url}: HTTP {code}: {}", body.trim())
}

impl Registry {
    pub fn connect(reference: &RegistryRef, opts: &Options) -> Result<Registry> {
        let host = match reference.registry.as_str() {
            "docker.io" => "registry-1.docker.io".to_string(),
            h => h.to_string(),
        };
        let mut agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(60))
            .redirect_auth_headers(ureq::RedirectAuthHeaders::SameHost)
            .tls_config(tls_config(&host, opts.certs_dir.as_deref())?)
            .user_agent(concat!("hull/", env!("CARGO_PKG_VERSION")));
        // One agent per registry, so the registry's host decides; a token
        // realm elsewhere is reached the same way.
        let proxy = crate::proxy::for_host(&host, "https");
        if let Some(p) = &proxy {
            let shown = crate::proxy::redacted(p);
            let p = ureq::Proxy::new(p)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("HTTPS_PROXY: {shown:?} is not an http:// proxy URL"))?;
            agent = agent.proxy(p);
        }
        let agent = agent.build();
        let through = proxy
            .map(|p| format!(" (through the proxy {})", crate::proxy::redacted(&p)))
            .unwrap_or_default();
        let creds = credentials(&host, opts.authfile.as_deref())?;
        let mut reg = Registry {
            agent,
            base: format!("https://{host}"),
            reference: reference.clone(),
            creds,
            auth: Mutex::new(Auth::Anonymous),
        };
        // The /v2/ probe: a registry answers 200, 401 when it wants auth, or
        // a server error the requests will retry. A loopback registry may
        // speak plain HTTP, as Docker allows; an HTTPS one (which answers
        // plain HTTP with a 400) is not used in clear.
        let probe = |base: &str| match reg.agent.get(&format!("{base}/v2/")).call() {
            Ok(_) | Err(ureq::Error::Status(401 | 429 | 500..=599, _)) => Ok(()),
            Err(ureq::Error::Status(code, _)) => Err(format!("{base}/v2/ answered HTTP {code}: not a registry")),
            Err(e) => Err(e.to_string()),
        };
        if let Err(tls) = probe(&reg.base) {
            let plain = format!("http://{host}");
            if !is_loopback(&host) || probe(&plain).is_err() {
                bail!("registry {host}{through}: {tls}");
            }
            reg.base = plain;
        }
        Ok(reg)
    }

    fn auth_header(&self) -> Option<String> {
        match &*self.auth.lock().unwrap_or_else(|e| e.into_inner()) {
            Auth::Anonymous => None,
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
            Auth::Basic => self.creds.as_ref().map(|(u, p)| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                )
            }),
        }
    }

    /// Answers a 401's challenge: Basic with the configured credentials, or
    /// a Bearer token from the realm it names.
    fn authenticate(&self, header: Option<&str>) -> Result<()> {
        let host = self.base.split("://").nth(1).unwrap_or_default();
        let header = header.with_context(|| format!("registry {host}: 401 without a WWW-Authenticate challenge"))?;
        let (scheme, params) = challenge(header);
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let next = match scheme.as_str() {
            "basic" if self.creds.is_some() => Auth::Basic,
            "basic" => bail!("registry {host}: asks for credentials (Basic) and the auth file has none for it"),
            "bearer" => {
                let realm =
                    param("realm").with_context(|| format!("registry {host}: Bearer challenge without a realm"))?;
                // Credentials go to the realm only over HTTPS, unless the
                // registry itself is a loopback one spoken to in clear.
                if self.creds.is_some() && !realm.starts_with("https://") && !self.base.starts_with("http://") {
                    bail!("registry {host}: the token realm {realm} is not HTTPS; not sending credentials there");
                }
                let scope = param("scope").unwrap_or_else(|| format!("repository:{}:pull", self.reference.repository));
                let mut req = self.agent.get(&realm).query("scope", &scope);
                if let Some(service) = param("service") {
                    req = req.query("service", &service);
                }
                if let Some((u, p)) = &self.creds {
                    let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                    req = req.set("Authorization", &format!("Basic {b}"));
                }
                let resp = match req.call() {
                    Ok(r) => r,
                    Err(ureq::Error::Status(code, r)) => return Err(status_error(&realm, code, r)).context("token"),
                    Err(e) => return Err(e).with_context(|| format!("token from {realm}")),
                };
                let mut body = vec![];
                resp.into_reader()
                    .take(1 << 20)
                    .read_to_end(&mut body)
                    .with_context(|| format!("token from {realm}"))?;
                let doc: Value =
                    serde_json::from_slice(&body).with_context(|| format!("token from {realm}: not JSON"))?;
                let token = doc["token"]
                    .as_str()
                    .or(doc["access_token"].as_str())
                    .with_context(|| format!("token from {realm}: no token in the answer"))?;
                Auth::Bearer(token.to_string())
            }
            other => bail!("registry {host}: unsupported auth scheme {other:?}"),
        };
        *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = next;
        Ok(())
    }

    /// GET /v2/<repo>/<path>, authenticating once and retrying what may pass.
    fn get(&self, path: &str, accept: &str) -> Result<ureq::Response> {
        let url = format!("{}/v2/{}/{path}", self.base, self.reference.repository);
        let mut authenticated = false;
        let mut attempt = 0;
        loop {
            let mut req = self.agent.get(&url);
            if !accept.is_empty() {
                req = req.set("Accept", accept);
            }
            if let Some(h) = self.auth_header() {
                req = req.set("Authorization", &h);
            }
            attempt += 1;
            let retry = attempt < ATTEMPTS;
            match req.call() {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(401, r)) if !authenticated => {
                    authenticated = true;
                    attempt -= 1;
                    self.authenticate(r.header("WWW-Authenticate"))?;
                    continue;
                }
                Err(ureq::Error::Status(code, _)) if retry && (code == 429 || code >= 500) => {}
                Err(ureq::Error::Status(code, r)) => return Err(status_error(&url, code, r)),
                Err(ureq::Error::Transport(_)) if retry => {}
                Err(e) => return Err(e).with_context(|| format!("GET {url}")),
            }
            std::thread::sleep(Duration::from_millis(200 << attempt));
        }
    }

    fn manifest(&self, reference: &str) -> Result<Vec<u8>> {
        let accept = [MANIFEST_TYPES.as_slice(), INDEX_TYPES.as_slice()].concat().join(", ");
        let resp = self.get(&format!("manifests/{reference}"), &accept)?;
        let claimed = resp.header("Docker-Content-Digest").map(String::from);
        let mut data = vec![];
        resp.into_reader()
            .take(MANIFEST_LIMIT)
            .read_to_end(&mut data)
            .with_context(|| format!("manifest {reference}"))?;
        let got = digest_of(&data);
        let expected = if reference.starts_with("sha256:") {
            Some(reference.to_string())
        } else {
            claimed
        };
        if let Some(want) = expected.filter(|w| w.starts_with("sha256:") && *w != got) {
            bail!("manifest {reference}: the registry sent content that hashes to {got}, not {want}");
        }
        Ok(data)
    }
}

impl Source for Registry {
    fn describe(&self) -> String {
        format!("{} ({})", self.reference.canonical(), self.base)
    }

    fn remote(&self) -> bool {
        true
    }

    fn image(&self) -> Result<Image> {
        let top = self.manifest(self.reference.reference())?;
        let top_digest = digest_of(&top);
        let mut first = Some(top);
        platform::resolve(
            &top_digest,
            &mut |d| match first.take().filter(|_| d == top_digest) {
                Some(data) => Ok(data),
                None => self.manifest(d),
            },
            &mut |d| self.json_blob(d),
        )
        .with_context(|| self.describe())
    }

    fn blob(&self, digest: &str, size: Option<u64>) -> Result<Box<dyn Read + Send + '_>> {
        let resp = self.get(&format!("blobs/{digest}"), "")?;
        Ok(Box::new(Verified::new(resp.into_reader(), digest, size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let (s, p) = challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(p[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(p[2], ("scope".into(), "repository:a/b:pull".into()));
        let (s, p) = challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(s, "basic");
        assert_eq!(p[0].1, "Registry Realm");
    }

    #[test]
    fn loopback() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("registry.example:5000"));
        assert!(!is_loopback("127.evil.example"));
        assert!(is_loopback("[::1]:5000"));
    }

    #[test]
    fn credentials_from_a_docker_config() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("config.json");
        std::fs::write(&f, r#"{"auths":{"127.0.0.1:5000":{"auth":"aHVsbDpzZWNyZXQ="}}}"#).unwrap();
        assert_eq!(
            credentials("127.0.0.1:5000", Some(&f)).unwrap(),
            Some(("hull".into(), "secret".into()))
        );
        assert_eq!(credentials("other:5000", Some(&f)).unwrap(), None);
    }
}
