//! Query strings: `filter[..]`, `fields[..]`, `include`, `sort`, `limit`. Array values are comma-separated
//! (`style: form, explode: false` in the spec).

/// Largest page size App Store Connect accepts on list endpoints.
pub const MAX_LIMIT: u32 = 200;

/// An ordered list of query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Query::default()
    }

    /// `filter[name]=v1,v2`.
    pub fn filter(mut self, name: &str, values: &[&str]) -> Self {
        self.pairs
            .push((format!("filter[{name}]"), values.join(",")));
        self
    }

    /// `fields[kind]=a,b` (sparse fieldset).
    pub fn fields(mut self, kind: &str, fields: &[&str]) -> Self {
        self.pairs
            .push((format!("fields[{kind}]"), fields.join(",")));
        self
    }

    /// `include=a,b`.
    pub fn include(mut self, relationships: &[&str]) -> Self {
        self.pairs
            .push(("include".to_owned(), relationships.join(",")));
        self
    }

    /// `sort=key` (prefix `-` for descending). Beware: the server sorts version strings as strings.
    pub fn sort(mut self, key: &str) -> Self {
        self.pairs.push(("sort".to_owned(), key.to_owned()));
        self
    }

    /// `limit=n`, clamped to [`MAX_LIMIT`].
    pub fn limit(mut self, n: u32) -> Self {
        self.pairs
            .push(("limit".to_owned(), n.clamp(1, MAX_LIMIT).to_string()));
        self
    }

    /// Any other parameter.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.pairs.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The parameters in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}
