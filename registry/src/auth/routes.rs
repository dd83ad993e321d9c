//! The one table of what each route needs: a role, and where it must hold.
//! A test fails when a route of the router has no entry here.

use super::Role;

/// Where a route's role must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Probes and metrics: no credentials needed.
    Public,
    /// Any authenticated caller (the role is not checked).
    Authenticated,
    /// The subject in the path (`{subject}`), after its alias.
    Subject,
    /// The subject in the path as written (config and mode are not aliased).
    SubjectUnaliased,
    /// Every subject of every context.
    Global,
    /// Some subject somewhere (services, environments, can-i-deploy).
    Somewhere,
    /// Some subject that uses the schema id in the path.
    SchemaId,
    /// A listing: answered with only what the caller may read.
    Listing,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub role: Role,
    pub scope: Scope,
    /// `?permanent=true` needs `admin`.
    pub admin_if_permanent: bool,
    /// A change (audited); reads and dry runs are not.
    pub changes: bool,
}

const fn rule(role: Role, scope: Scope, changes: bool) -> Rule {
    Rule { role, scope, admin_if_permanent: false, changes }
}

const READ: Role = Role::Read;
const WRITE: Role = Role::Write;
const ADMIN: Role = Role::Admin;

/// Every route: method, path (axum syntax, as in the router) and its rule.
pub const RULES: &[(&str, &str, Rule)] = &[
    ("get", "/", rule(READ, Scope::Authenticated, false)),
    ("post", "/", rule(READ, Scope::Authenticated, false)),
    ("get", "/v1/metadata/id", rule(READ, Scope::Authenticated, false)),
    ("get", "/v1/metadata/version", rule(READ, Scope::Authenticated, false)),
    ("get", "/healthz", rule(READ, Scope::Public, false)),
    ("get", "/readyz", rule(READ, Scope::Public, false)),
    ("get", "/metrics", rule(READ, Scope::Public, false)),
    ("get", "/contexts", rule(READ, Scope::Listing, false)),
    ("get", "/schemas/types", rule(READ, Scope::Authenticated, false)),
    ("get", "/schemas", rule(READ, Scope::Listing, false)),
    ("get", "/schemas/ids/{id}", rule(READ, Scope::SchemaId, false)),
    ("get", "/schemas/ids/{id}/schema", rule(READ, Scope::SchemaId, false)),
    ("get", "/schemas/ids/{id}/subjects", rule(READ, Scope::Listing, false)),
    ("get", "/schemas/ids/{id}/versions", rule(READ, Scope::Listing, false)),
    ("get", "/subjects", rule(READ, Scope::Listing, false)),
    ("post", "/subjects/{subject}", rule(READ, Scope::Subject, false)),
    ("delete", "/subjects/{subject}", Rule { admin_if_permanent: true, ..rule(WRITE, Scope::Subject, true) }),
    ("get", "/subjects/{subject}/versions", rule(READ, Scope::Subject, false)),
    ("post", "/subjects/{subject}/versions", rule(WRITE, Scope::Subject, true)),
    ("get", "/subjects/{subject}/versions/{version}", rule(READ, Scope::Subject, false)),
    (
        "delete",
        "/subjects/{subject}/versions/{version}",
        Rule { admin_if_permanent: true, ..rule(WRITE, Scope::Subject, true) },
    ),
    ("post", "/subjects/{subject}/versions/{version}/tags", rule(WRITE, Scope::Subject, true)),
    ("get", "/subjects/{subject}/versions/{version}/schema", rule(READ, Scope::Subject, false)),
    ("get", "/subjects/{subject}/versions/{version}/referencedby", rule(READ, Scope::Subject, false)),
    ("get", "/subjects/{subject}/metadata", rule(READ, Scope::Subject, false)),
    ("post", "/compatibility/subjects/{subject}/versions", rule(READ, Scope::Subject, false)),
    ("post", "/compatibility/subjects/{subject}/versions/{version}", rule(READ, Scope::Subject, false)),
    ("post", "/stele/v1/compatibility/subjects/{subject}/versions", rule(READ, Scope::Subject, false)),
    ("get", "/stele/v1/subjects/{subject}/consumers", rule(READ, Scope::Subject, false)),
    ("get", "/stele/v1/subjects/{subject}/consumers/{consumer}", rule(READ, Scope::Subject, false)),
    ("put", "/stele/v1/subjects/{subject}/consumers/{consumer}", rule(WRITE, Scope::Subject, true)),
    ("delete", "/stele/v1/subjects/{subject}/consumers/{consumer}", rule(WRITE, Scope::Subject, true)),
    ("get", "/stele/v1/services", rule(READ, Scope::Somewhere, false)),
    ("get", "/stele/v1/services/{service}", rule(READ, Scope::Somewhere, false)),
    ("put", "/stele/v1/services/{service}", rule(WRITE, Scope::Somewhere, true)),
    ("get", "/stele/v1/services/{service}/versions/{version}", rule(READ, Scope::Somewhere, false)),
    // The handler also checks `write` on every subject the version produces or consumes.
    ("put", "/stele/v1/services/{service}/versions/{version}", rule(WRITE, Scope::Somewhere, true)),
    ("get", "/stele/v1/environments", rule(READ, Scope::Somewhere, false)),
    ("get", "/stele/v1/environments/{environment}", rule(READ, Scope::Somewhere, false)),
    ("put", "/stele/v1/environments/{environment}", rule(ADMIN, Scope::Global, true)),
    ("delete", "/stele/v1/environments/{environment}", rule(ADMIN, Scope::Global, true)),
    ("get", "/stele/v1/environments/{environment}/deployments", rule(READ, Scope::Somewhere, false)),
    ("post", "/stele/v1/environments/{environment}/deployments", rule(WRITE, Scope::Somewhere, true)),
    ("delete", "/stele/v1/environments/{environment}/deployments/{service}", rule(WRITE, Scope::Somewhere, true)),
    ("get", "/stele/v1/can-i-deploy", rule(READ, Scope::Somewhere, false)),
    ("post", "/stele/v1/webhooks", rule(ADMIN, Scope::Global, true)),
    ("get", "/stele/v1/webhooks", rule(ADMIN, Scope::Global, false)),
    ("get", "/stele/v1/webhooks/{id}", rule(ADMIN, Scope::Global, false)),
    ("delete", "/stele/v1/webhooks/{id}", rule(ADMIN, Scope::Global, true)),
    ("get", "/stele/v1/webhooks/{id}/deliveries", rule(ADMIN, Scope::Global, false)),
    ("get", "/stele/v1/audit", rule(ADMIN, Scope::Global, false)),
    // The web console: pages read like the API they show; its two forms change like the API.
    ("get", "/ui", rule(READ, Scope::Authenticated, false)),
    ("get", "/ui/subjects", rule(READ, Scope::Authenticated, false)),
    ("get", "/ui/subjects/{subject}", rule(READ, Scope::Subject, false)),
    ("post", "/ui/subjects/{subject}/config", rule(ADMIN, Scope::SubjectUnaliased, true)),
    ("get", "/ui/subjects/{subject}/versions/{version}", rule(READ, Scope::Subject, false)),
    ("post", "/ui/subjects/{subject}/versions/{version}/delete", rule(WRITE, Scope::Subject, true)),
    ("get", "/ui/subjects/{subject}/diff", rule(READ, Scope::Subject, false)),
    ("get", "/ui/playground", rule(READ, Scope::Authenticated, false)),
    ("post", "/ui/playground", rule(READ, Scope::Authenticated, false)),
    ("get", "/ui/environments", rule(READ, Scope::Somewhere, false)),
    ("get", "/ui/search", rule(READ, Scope::Authenticated, false)),
    ("get", "/config", rule(READ, Scope::Authenticated, false)),
    ("put", "/config", rule(ADMIN, Scope::Global, true)),
    ("delete", "/config", rule(ADMIN, Scope::Global, true)),
    ("get", "/config/{subject}", rule(READ, Scope::SubjectUnaliased, false)),
    ("put", "/config/{subject}", rule(ADMIN, Scope::SubjectUnaliased, true)),
    ("delete", "/config/{subject}", rule(ADMIN, Scope::SubjectUnaliased, true)),
    ("get", "/mode", rule(READ, Scope::Authenticated, false)),
    ("put", "/mode", rule(ADMIN, Scope::Global, true)),
    ("get", "/mode/{subject}", rule(READ, Scope::SubjectUnaliased, false)),
    ("put", "/mode/{subject}", rule(ADMIN, Scope::SubjectUnaliased, true)),
    ("delete", "/mode/{subject}", rule(ADMIN, Scope::SubjectUnaliased, true)),
];

/// The rule of a routed request; `None` for a path no route matched.
pub fn rule_of(method: &axum::http::Method, route: &str) -> Option<Rule> {
    // axum answers HEAD with the GET route.
    let method = if method == axum::http::Method::HEAD { "get" } else { method.as_str() };
    RULES.iter().find(|(m, path, _)| *path == route && m.eq_ignore_ascii_case(method)).map(|(_, _, rule)| *rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_exactly_one_rule_and_every_rule_a_route() {
        for (method, path) in crate::http::ROUTES {
            let rules = RULES.iter().filter(|(m, p, _)| m == method && p == path).count();
            assert_eq!(rules, 1, "{method} {path} needs exactly one entry in auth::routes::RULES");
        }
        for (method, path, _) in RULES {
            assert!(
                crate::http::ROUTES.iter().any(|(m, p)| m == method && p == path),
                "{method} {path} has a rule but no route"
            );
        }
    }

    #[test]
    fn deletes_escalate_and_reads_are_not_changes() {
        let delete = rule_of(&axum::http::Method::DELETE, "/subjects/{subject}").expect("rule");
        assert!(delete.admin_if_permanent && delete.changes && delete.role == Role::Write);
        let lookup = rule_of(&axum::http::Method::POST, "/subjects/{subject}").expect("rule");
        assert!(!lookup.changes && lookup.role == Role::Read);
        assert_eq!(rule_of(&axum::http::Method::HEAD, "/subjects").map(|r| r.scope), Some(Scope::Listing));
        assert!(rule_of(&axum::http::Method::PUT, "/mode").is_some_and(|r| r.role == Role::Admin));
    }
}
