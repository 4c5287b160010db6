//! Packaging: components as OCI artifacts (`torvyn pack`), pushed to and
//! pulled from OCI registries (`torvyn publish`, `torvyn pull`, `oci://`
//! references in manifests), signed with Ed25519 keys and verified before
//! anything of them runs.
//!
//! Ownership: packing writes into a layout directory the caller names;
//! pulling writes only into the store under the cache root (private to the
//! user), and every byte read from a registry or the store is checked
//! against its digest before use.

mod artifact;
mod client;
mod error;
mod layout;
mod oci;
mod pull;
mod reference;
mod signing;
mod store;

pub use artifact::{component_layer, layout_components, manifest_blobs, pack, LayoutComponent, PackInput, Packed};
pub use client::Registry;
pub use error::PackagingError;
pub use layout::{tar_dir, Layout, LayoutWriter};
pub use oci::{digest_of, signature_tag, MANIFEST, WASM_CONFIG, WASM_LAYER};
pub use pull::{resolve, PullPolicy, Resolved};
pub use reference::{is_digest, Reference};
pub use signing::{generate as generate_key, key_id, load_private, load_public, Expect, TrustedKey};
pub use store::{stored_digest, PulledEntry, Store};
