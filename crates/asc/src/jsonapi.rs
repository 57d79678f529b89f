//! Typed JSON:API documents as App Store Connect uses them (OpenAPI 4.4.1 modelling rules, reference §0).
//!
//! Resources require only `type` and `id`; every attribute is optional because live answers carry nulls the spec does
//! not declare. A resource kind is a type implementing [`ResourceType`]; `included` resources are kept raw and decoded
//! on demand by kind with [`Document::included`], so one document can carry any mix without a giant enum.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A kind of resource: its JSON:API `type` and the shapes of its attributes and relationships.
pub trait ResourceType {
    /// The `type` string, e.g. `builds`.
    const TYPE: &'static str;
    /// Attributes (all fields optional).
    type Attributes: DeserializeOwned + Default + std::fmt::Debug + Clone;
    /// Relationships (all fields optional).
    type Relationships: DeserializeOwned + Default + std::fmt::Debug + Clone;
}

/// A resource of kind `T` as found in `data` or `included`.
pub type ResourceOf<T> =
    Resource<<T as ResourceType>::Attributes, <T as ResourceType>::Relationships>;

/// One resource object.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Resource<A, R> {
    /// JSON:API `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Resource id.
    pub id: String,
    /// Attributes; absent when sparse fieldsets left none.
    #[serde(default = "Option::default")]
    pub attributes: Option<A>,
    /// Relationships.
    #[serde(default = "Option::default")]
    pub relationships: Option<R>,
}

/// `{type, id}`: a pointer to a resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct ResourceIdentifier {
    /// JSON:API `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Resource id.
    pub id: String,
}

impl ResourceIdentifier {
    /// An identifier of kind `T`.
    pub fn of<T: ResourceType>(id: impl Into<String>) -> Self {
        ResourceIdentifier {
            kind: T::TYPE.to_owned(),
            id: id.into(),
        }
    }
}

/// `relationships.<name>.links`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct RelationshipLinks {
    /// `self` link.
    #[serde(rename = "self")]
    pub self_link: Option<String>,
    /// `related` link (follow verbatim; codemagic builds garbage URLs without it).
    pub related: Option<String>,
}

/// A to-one relationship.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ToOne {
    /// The linked resource, if included in the answer.
    #[serde(default)]
    pub data: Option<ResourceIdentifier>,
    /// Links.
    #[serde(default)]
    pub links: Option<RelationshipLinks>,
}

/// A to-many relationship.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ToMany {
    /// The linked resources, if requested.
    #[serde(default)]
    pub data: Option<Vec<ResourceIdentifier>>,
    /// Links.
    #[serde(default)]
    pub links: Option<RelationshipLinks>,
}

/// For resources whose relationships we do not read.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct NoRelationships {}

/// Top-level `links` of a document (`PagedDocumentLinks` / `DocumentLinks`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct DocumentLinks {
    /// `self`.
    #[serde(rename = "self")]
    pub self_link: Option<String>,
    /// `first`.
    pub first: Option<String>,
    /// `next`: the absolute URL of the next page, followed exactly as given.
    pub next: Option<String>,
}

/// `meta.paging`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    /// Total number of resources (all pages).
    pub total: Option<u64>,
    /// Page size.
    pub limit: Option<u64>,
    /// Opaque cursor.
    pub next_cursor: Option<String>,
}

/// Top-level `meta`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct DocumentMeta {
    /// Paging information of list answers.
    pub paging: Option<Paging>,
}

/// A response document whose `data` is `D` (a resource, `Option` of one, or a `Vec`).
#[derive(Debug, Clone, Deserialize)]
pub struct Document<D> {
    /// Primary data.
    pub data: D,
    /// Included resources, kept raw and decoded by kind on demand.
    #[serde(default)]
    pub included: Vec<serde_json::Value>,
    /// Links.
    #[serde(default)]
    pub links: Option<DocumentLinks>,
    /// Meta.
    #[serde(default)]
    pub meta: Option<DocumentMeta>,
}

impl<D> Document<D> {
    /// The included resources of kind `T`; entries that do not decode are skipped.
    pub fn included<T: ResourceType>(&self) -> impl Iterator<Item = ResourceOf<T>> + '_ {
        included_of::<T>(&self.included)
    }
}

/// Decodes the resources of kind `T` from raw `included` values, skipping any that do not decode.
pub fn included_of<T: ResourceType>(
    raw: &[serde_json::Value],
) -> impl Iterator<Item = ResourceOf<T>> + '_ {
    raw.iter()
        .filter(|value| value.get("type").and_then(|t| t.as_str()) == Some(T::TYPE))
        .filter_map(|value| ResourceOf::<T>::deserialize(value).ok())
}

/// A list of resources of kind `T` gathered across pages, with their `included` resources.
#[derive(Debug, Clone)]
#[allow(clippy::type_complexity)]
pub struct Collection<T: ResourceType> {
    /// Every resource of every page, in server order.
    pub data: Vec<ResourceOf<T>>,
    /// Every page's `included` resources.
    pub included: Vec<serde_json::Value>,
    /// Number of pages read.
    pub pages: usize,
    /// `meta.paging.total` of the first page, when given.
    pub total: Option<u64>,
}

impl<T: ResourceType> Collection<T> {
    /// The included resources of kind `U`.
    pub fn included<U: ResourceType>(&self) -> impl Iterator<Item = ResourceOf<U>> + '_ {
        included_of::<U>(&self.included)
    }
}

/// A create (`POST`) body: `{"data": {"type", "attributes", "relationships"}}`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateDocument<A: Serialize, R: Serialize> {
    /// The new resource.
    pub data: NewResource<A, R>,
}

/// The resource inside a [`CreateDocument`].
#[derive(Debug, Clone, Serialize)]
pub struct NewResource<A: Serialize, R: Serialize> {
    /// JSON:API `type`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<A>,
    /// Relationships.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationships: Option<R>,
}

impl<A: Serialize, R: Serialize> CreateDocument<A, R> {
    /// A create body for kind `T`.
    pub fn new<T: ResourceType>(attributes: Option<A>, relationships: Option<R>) -> Self {
        CreateDocument {
            data: NewResource {
                kind: T::TYPE,
                attributes,
                relationships,
            },
        }
    }
}

/// An update (`PATCH`) body: `{"data": {"type", "id", "attributes"}}`.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateDocument<A: Serialize> {
    /// The changed resource.
    pub data: UpdatedResource<A>,
}

/// The resource inside an [`UpdateDocument`].
#[derive(Debug, Clone, Serialize)]
pub struct UpdatedResource<A: Serialize> {
    /// JSON:API `type`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Resource id.
    pub id: String,
    /// Changed attributes.
    pub attributes: A,
}

impl<A: Serialize> UpdateDocument<A> {
    /// An update body for resource `id` of kind `T`.
    pub fn new<T: ResourceType>(id: impl Into<String>, attributes: A) -> Self {
        UpdateDocument {
            data: UpdatedResource {
                kind: T::TYPE,
                id: id.into(),
                attributes,
            },
        }
    }
}

/// `{"data": {type, id}}` for a to-one relationship in a request body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Linkage {
    /// The linked resource.
    pub data: ResourceIdentifier,
}

impl Linkage {
    /// A link to resource `id` of kind `T`.
    pub fn to<T: ResourceType>(id: impl Into<String>) -> Self {
        Linkage {
            data: ResourceIdentifier::of::<T>(id),
        }
    }
}
