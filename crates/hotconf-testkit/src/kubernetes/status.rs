//! `Status` objects: how the API server reports every failure (backends.md §7.9, "Errors are
//! `Status` objects with `code` and `reason`"), on the wire and in-stream (§7.3).

use serde_json::{json, Value};

use super::Resource;

/// A failure as a `metav1.Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    /// `details.name` and `details.kind` (the resource's plural name).
    pub(crate) details: Option<(String, Resource)>,
}

impl Status {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Status {
        Status {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn about(mut self, resource: Resource, name: &str) -> Status {
        self.details = Some((name.to_owned(), resource));
        self
    }

    pub(crate) fn not_found(resource: Resource, name: &str) -> Status {
        Status::new(404, "NotFound", format!("{resource} \"{name}\" not found"))
            .about(resource, name)
    }

    /// A path the server does not serve.
    pub(crate) fn no_route() -> Status {
        Status::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub(crate) fn already_exists(resource: Resource, name: &str) -> Status {
        Status::new(
            409,
            "AlreadyExists",
            format!("{resource} \"{name}\" already exists"),
        )
        .about(resource, name)
    }

    pub(crate) fn conflict(resource: Resource, name: &str) -> Status {
        Status::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        )
        .about(resource, name)
    }

    pub(crate) fn invalid(resource: Resource, name: &str, why: &str) -> Status {
        let kind = resource.kind();
        Status::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {why}"),
        )
        .about(resource, name)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Status {
        Status::new(400, "BadRequest", message)
    }

    pub(crate) fn unauthorized() -> Status {
        Status::new(401, "Unauthorized", "Unauthorized")
    }

    pub(crate) fn forbidden(resource: Resource, name: &str, verb: &str, namespace: &str) -> Status {
        let what = if name.is_empty() {
            resource.to_string()
        } else {
            format!("{resource} \"{name}\"")
        };
        Status::new(
            403,
            "Forbidden",
            format!(
                "{what} is forbidden: User \"system:anonymous\" cannot {verb} resource \"{resource}\" in API group \"\" in the namespace \"{namespace}\""
            ),
        )
        .about(resource, name)
    }

    pub(crate) fn method_not_allowed() -> Status {
        Status::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub(crate) fn too_large() -> Status {
        Status::new(413, "RequestEntityTooLarge", "the request is too large")
    }

    pub(crate) fn unsupported_media_type(content_type: &str) -> Status {
        Status::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (not {content_type:?})"),
        )
    }

    /// The in-stream answer to a watch from a version older than the retained history (§7.3).
    pub(crate) fn expired(asked: u64, oldest: u64) -> Status {
        Status::new(
            410,
            "Expired",
            format!("too old resource version: {asked} ({oldest})"),
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some((name, resource)) = &self.details {
            let mut details = json!({ "kind": resource.to_string() });
            if !name.is_empty() {
                details["name"] = name.clone().into();
            }
            status["details"] = details;
        }
        status
    }
}
