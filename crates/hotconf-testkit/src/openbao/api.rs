//! Requests to the server's HTTP API, as an operator's tools send them (`X-Vault-Token`, JSON
//! bodies, no redirects followed).

use serde_json::Value;

use super::OpenBao;

impl OpenBao {
    /// Sends `method /v1/<path>` with the root token and `body` as JSON; returns the status and
    /// the JSON answer (`Null` when the body is empty, as with 204). `method` may be `LIST`.
    ///
    /// # Panics
    /// When the server cannot be reached or answers with something that is not JSON.
    pub async fn api(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.api_as(Some(&self.root_token), method, path, body)
            .await
    }

    /// Like [`OpenBao::api`] with `token` (or none, as for a login).
    ///
    /// # Panics
    /// When the server cannot be reached or answers with something that is not JSON.
    pub async fn api_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        self.try_api(token, method, path, body)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{method} /v1/{path}: {e}; the server's log ends with:\n{}",
                    self.log_tail()
                )
            })
    }

    pub(super) async fn try_api(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = self
            .client
            .request(method, format!("{}/v1/{path}", self.url()));
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if text.trim().is_empty() {
            return Ok((status, Value::Null));
        }
        let value = serde_json::from_str(&text)
            .map_err(|e| format!("HTTP {status}, not JSON ({e}): {text}"))?;
        Ok((status, value))
    }

    /// [`OpenBao::api`], panicking (with the answer and the log tail) unless the status is 2xx;
    /// returns the body.
    pub(super) async fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, answer) = self.api(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} /v1/{path} answered {status}: {answer}; the server's log ends with:\n{}",
            self.log_tail()
        );
        answer
    }
}
