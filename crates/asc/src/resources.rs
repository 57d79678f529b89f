//! Resource kinds ipagate reads or writes, with the attributes it uses (OpenAPI 4.4.1 schema names).
//! Enums keep unknown values in an `Unknown` arm: Apple adds states without notice.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::jsonapi::{Linkage, NoRelationships, ResourceType, ToMany, ToOne};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know.
            Unknown(String),
        }

        impl $name {
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(other) => other,
                }
            }

            /// Parses a wire value (unknown values are kept).
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Ok($name::parse(&text))
            }
        }
    };
}

string_enum! {
    /// `Platform`.
    Platform {
        /// iOS (and iPadOS).
        Ios => "IOS",
        /// macOS.
        MacOs => "MAC_OS",
        /// tvOS.
        TvOs => "TV_OS",
        /// visionOS.
        VisionOs => "VISION_OS",
    }
}

string_enum! {
    /// `Build.processingState`.
    ProcessingState {
        /// Apple is processing the binary.
        Processing => "PROCESSING",
        /// Processing failed.
        Failed => "FAILED",
        /// Rejected as invalid.
        Invalid => "INVALID",
        /// Ready.
        Valid => "VALID",
    }
}

string_enum! {
    /// `BuildUploadState`.
    BuildUploadState {
        /// Created, file not uploaded yet.
        AwaitingUpload => "AWAITING_UPLOAD",
        /// Uploaded, being processed.
        Processing => "PROCESSING",
        /// Processing failed.
        Failed => "FAILED",
        /// Done; a build exists.
        Complete => "COMPLETE",
    }
}

/// `apps`.
#[derive(Debug, Clone, Copy)]
pub struct App;

/// `App.attributes` (the part ipagate reads).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppAttributes {
    /// Display name.
    pub name: Option<String>,
    /// Bundle identifier.
    pub bundle_id: Option<String>,
    /// SKU.
    pub sku: Option<String>,
    /// Primary locale.
    pub primary_locale: Option<String>,
}

impl ResourceType for App {
    const TYPE: &'static str = "apps";
    type Attributes = AppAttributes;
    type Relationships = NoRelationships;
}

/// `builds`.
#[derive(Debug, Clone, Copy)]
pub struct Build;

/// `Build.attributes`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildAttributes {
    /// CFBundleVersion (the build number).
    pub version: Option<String>,
    /// Upload time.
    pub uploaded_date: Option<String>,
    /// Expiry time.
    pub expiration_date: Option<String>,
    /// Expired for testing.
    pub expired: Option<bool>,
    /// Minimum OS.
    pub min_os_version: Option<String>,
    /// Processing state.
    pub processing_state: Option<ProcessingState>,
    /// Export compliance answer.
    pub uses_non_exempt_encryption: Option<bool>,
}

/// `Build.relationships`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildRelationships {
    /// The marketing-version train.
    pub pre_release_version: Option<ToOne>,
    /// The app.
    pub app: Option<ToOne>,
    /// Beta detail.
    pub build_beta_detail: Option<ToOne>,
    /// Beta groups.
    pub beta_groups: Option<ToMany>,
}

impl ResourceType for Build {
    const TYPE: &'static str = "builds";
    type Attributes = BuildAttributes;
    type Relationships = BuildRelationships;
}

/// `preReleaseVersions` (a marketing-version train on one platform).
#[derive(Debug, Clone, Copy)]
pub struct PreReleaseVersion;

/// `PrereleaseVersion.attributes`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PreReleaseVersionAttributes {
    /// CFBundleShortVersionString.
    pub version: Option<String>,
    /// Platform.
    pub platform: Option<Platform>,
}

impl ResourceType for PreReleaseVersion {
    const TYPE: &'static str = "preReleaseVersions";
    type Attributes = PreReleaseVersionAttributes;
    type Relationships = NoRelationships;
}

/// `appStoreVersions`.
#[derive(Debug, Clone, Copy)]
pub struct AppStoreVersion;

/// `AppStoreVersion.attributes`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppStoreVersionAttributes {
    /// Platform.
    pub platform: Option<Platform>,
    /// Marketing version.
    pub version_string: Option<String>,
    /// State.
    pub app_version_state: Option<String>,
}

/// `AppStoreVersion.relationships`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppStoreVersionRelationships {
    /// The attached build.
    pub build: Option<ToOne>,
}

impl ResourceType for AppStoreVersion {
    const TYPE: &'static str = "appStoreVersions";
    type Attributes = AppStoreVersionAttributes;
    type Relationships = AppStoreVersionRelationships;
}

/// `buildUploads` (Build Upload API, 4.1+).
#[derive(Debug, Clone, Copy)]
pub struct BuildUpload;

/// `StateDetail`: one message of an upload's processing.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct StateDetail {
    /// Code (ITMS-9xxxx numbers for validation errors).
    pub code: Option<String>,
    /// Message.
    pub description: Option<String>,
}

/// `BuildUpload.attributes.state`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct BuildUploadStateDetail {
    /// The state.
    pub state: Option<BuildUploadState>,
    /// Errors.
    #[serde(default)]
    pub errors: Option<Vec<StateDetail>>,
    /// Warnings.
    #[serde(default)]
    pub warnings: Option<Vec<StateDetail>>,
}

/// `BuildUpload.attributes`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildUploadAttributes {
    /// Marketing version.
    pub cf_bundle_short_version_string: Option<String>,
    /// Build number.
    pub cf_bundle_version: Option<String>,
    /// Creation time.
    pub created_date: Option<String>,
    /// State with messages.
    pub state: Option<BuildUploadStateDetail>,
    /// Platform.
    pub platform: Option<Platform>,
    /// Upload time.
    pub uploaded_date: Option<String>,
}

/// `BuildUpload.relationships`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildUploadRelationships {
    /// The build, once processing completed.
    pub build: Option<ToOne>,
    /// The main asset file.
    pub asset_file: Option<ToOne>,
}

impl ResourceType for BuildUpload {
    const TYPE: &'static str = "buildUploads";
    type Attributes = BuildUploadAttributes;
    type Relationships = BuildUploadRelationships;
}

/// `POST /v1/buildUploads` attributes (`BuildUploadCreateRequest`; all three required).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BuildUploadCreateAttributes {
    /// Marketing version.
    pub cf_bundle_short_version_string: String,
    /// Build number.
    pub cf_bundle_version: String,
    /// Platform.
    pub platform: Platform,
}

/// `POST /v1/buildUploads` relationships (`app` required).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BuildUploadCreateRelationships {
    /// The app.
    pub app: Linkage,
}

/// `buildUploadFiles`.
#[derive(Debug, Clone, Copy)]
pub struct BuildUploadFile;

/// `DeliveryFileUploadOperation`: one part to PUT (presigned; no Authorization header).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UploadOperation {
    /// HTTP method, used verbatim.
    pub method: Option<String>,
    /// Presigned URL.
    pub url: Option<String>,
    /// Byte offset in the file.
    pub offset: Option<u64>,
    /// Byte count.
    pub length: Option<u64>,
    /// Headers to send verbatim.
    #[serde(default)]
    pub request_headers: Option<Vec<HttpHeader>>,
    /// Part number.
    pub part_number: Option<u64>,
    /// Expiry of the URL.
    pub expiration: Option<String>,
}

/// `{name, value}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct HttpHeader {
    /// Name.
    pub name: Option<String>,
    /// Value.
    pub value: Option<String>,
}

/// `AppMediaAssetState`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct AssetDeliveryState {
    /// AWAITING_UPLOAD, UPLOAD_COMPLETE, COMPLETE, FAILED.
    pub state: Option<String>,
    /// Errors.
    #[serde(default)]
    pub errors: Option<Vec<StateDetail>>,
}

/// `BuildUploadFile.attributes`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildUploadFileAttributes {
    /// Delivery state.
    pub asset_delivery_state: Option<AssetDeliveryState>,
    /// ASSET, ASSET_DESCRIPTION, ASSET_SPI.
    pub asset_type: Option<String>,
    /// File name.
    pub file_name: Option<String>,
    /// Size in bytes.
    pub file_size: Option<u64>,
    /// Parts to upload.
    #[serde(default)]
    pub upload_operations: Option<Vec<UploadOperation>>,
    /// UTI.
    pub uti: Option<String>,
}

impl ResourceType for BuildUploadFile {
    const TYPE: &'static str = "buildUploadFiles";
    type Attributes = BuildUploadFileAttributes;
    type Relationships = NoRelationships;
}

/// Declares a resource type whose attributes are all optional strings/booleans, with no relationships read.
macro_rules! simple_resource {
    ($(#[$doc:meta])* $name:ident, $attrs:ident, $type:literal, { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        #[doc = concat!("`", $type, "` attributes (the part ipagate reads).")]
        #[derive(Debug, Clone, Default, Deserialize, PartialEq)]
        #[serde(rename_all = "camelCase")]
        pub struct $attrs {
            $($(#[$fdoc])* pub $field: Option<$ty>,)*
        }

        impl ResourceType for $name {
            const TYPE: &'static str = $type;
            type Attributes = $attrs;
            type Relationships = NoRelationships;
        }
    };
}

simple_resource!(
    /// `betaGroups`.
    BetaGroup, BetaGroupAttributes, "betaGroups", {
        /// Name shown in App Store Connect.
        name: String,
        /// Internal (team) group.
        is_internal_group: bool,
    }
);

simple_resource!(
    /// `buildBetaDetails`.
    BuildBetaDetail, BuildBetaDetailAttributes, "buildBetaDetails", {
        /// Notify testers automatically.
        auto_notify_enabled: bool,
        /// Internal testing state (PROCESSING, MISSING_EXPORT_COMPLIANCE, READY_FOR_BETA_TESTING, …).
        internal_build_state: String,
        /// External testing state (… READY_FOR_BETA_SUBMISSION, WAITING_FOR_BETA_REVIEW, …).
        external_build_state: String,
    }
);

simple_resource!(
    /// `betaBuildLocalizations` (What to Test).
    BetaBuildLocalization, BetaBuildLocalizationAttributes, "betaBuildLocalizations", {
        /// What to Test.
        whats_new: String,
        /// Locale (en-US, …).
        locale: String,
    }
);

simple_resource!(
    /// `betaAppLocalizations` (TestFlight test information per locale).
    BetaAppLocalization, BetaAppLocalizationAttributes, "betaAppLocalizations", {
        /// Feedback address (required for beta review).
        feedback_email: String,
        /// Marketing URL.
        marketing_url: String,
        /// Privacy policy URL.
        privacy_policy_url: String,
        /// Beta app description.
        description: String,
        /// Locale.
        locale: String,
    }
);

simple_resource!(
    /// `betaAppReviewDetails` (contact for beta review).
    BetaAppReviewDetail, BetaAppReviewDetailAttributes, "betaAppReviewDetails", {
        /// Contact first name.
        contact_first_name: String,
        /// Contact last name.
        contact_last_name: String,
        /// Contact phone.
        contact_phone: String,
        /// Contact email.
        contact_email: String,
        /// Sign-in required.
        demo_account_required: bool,
        /// Demo account name.
        demo_account_name: String,
        /// Notes.
        notes: String,
    }
);

simple_resource!(
    /// `betaAppReviewSubmissions`.
    BetaAppReviewSubmission, BetaAppReviewSubmissionAttributes, "betaAppReviewSubmissions", {
        /// WAITING_FOR_REVIEW, IN_REVIEW, REJECTED, APPROVED.
        beta_review_state: String,
    }
);

simple_resource!(
    /// `reviewSubmissions` (App Store review).
    ReviewSubmission, ReviewSubmissionAttributes, "reviewSubmissions", {
        /// Platform.
        platform: Platform,
        /// READY_FOR_REVIEW, WAITING_FOR_REVIEW, IN_REVIEW, UNRESOLVED_ISSUES, CANCELING, COMPLETING, COMPLETE.
        state: String,
    }
);
