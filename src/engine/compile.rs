//! The shared engine and the compiled-component cache.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::error::EngineError;
use super::host_types;
use super::state::StageState;
use super::ticker;
use crate::contracts::{self, Exports, Role};

/// Engine-wide limits, fixed when the host is built. Hosts with the same
/// settings share one engine (and its instance pool) per process.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EngineSettings {
    /// Largest linear memory any instance may grow to (flows may set less).
    pub max_memory_bytes: u64,
    /// Component instances the pooling allocator keeps slots for (each stage
    /// of each flow is one). Beyond it instances are allocated on demand:
    /// slower to create, otherwise the same.
    pub max_instances: u32,
    /// Compile with fuel metering (each call then runs on a fuel budget).
    /// Metered and unmetered code never mix: each is its own engine, with
    /// its own compiled-component cache.
    pub fuel: bool,
    /// The most Wasm stack one call may use (deep recursion past it traps
    /// with "call stack exhausted").
    pub max_stack_bytes: usize,
    /// Where compiled components are kept on disk between processes
    /// (`None`: in memory only). Not part of what the code depends on: the
    /// entries' keys are (see `disk_cache`).
    pub cache: Option<super::disk_cache::DiskCache>,
}

/// Default Wasm stack per call (wasmtime's own default).
pub const DEFAULT_WASM_STACK: usize = 512 << 10;
/// Bounds of the Wasm stack setting: workers' native stacks are sized for
/// the largest.
pub const MIN_WASM_STACK: usize = 64 << 10;
pub const MAX_WASM_STACK: usize = 8 << 20;

/// The most a 32-bit linear memory can hold.
pub const MAX_LINEAR_MEMORY: u64 = 4 << 30;

/// Default size of the instance pool: 1,000 instances (about 330 concurrent
/// three-stage flows) before instances are allocated on demand.
pub const DEFAULT_MAX_INSTANCES: u32 = 1000;

/// The largest instance pool: each slot reserves about 4 GiB of address
/// space, so 10,000 slots take 40 TiB of the 128 TiB a process has.
pub const MAX_INSTANCES: u32 = 10_000;

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            max_memory_bytes: 256 << 20,
            max_instances: DEFAULT_MAX_INSTANCES,
            fuel: false,
            max_stack_bytes: DEFAULT_WASM_STACK,
            cache: None,
        }
    }
}

/// What [`Engine::inspect`] found in a component.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub name: String,
    pub size: usize,
    pub digest: [u8; 32],
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// The role and world, or why the component fits no contract world.
    pub contract: Result<Exports, contracts::ContractError>,
}

/// A component compiled for this engine, with its contract role resolved and
/// its imports pre-linked. Shared by every flow that uses it.
pub struct CompiledComponent {
    /// Display name (file name or `[[component]]` name).
    pub name: String,
    /// Size of the `.wasm` in bytes.
    pub size: usize,
    /// SHA-256 of the `.wasm`.
    pub digest: [u8; 32],
    /// Role and export names.
    pub exports: Exports,
    /// Every import name, e.g. `wasi:io/poll@0.2.6`.
    pub imports: Vec<String>,
    pub(crate) pre: InstancePre<StageState>,
    pub(crate) indices: ExportIndices,
    /// The same component prepared for the engine's on-demand allocator,
    /// made the first time the instance pool is full.
    pub(crate) overflow: OnceLock<Result<(InstancePre<StageState>, ExportIndices), String>>,
    /// The component's bytes (kept to prepare `overflow`).
    pub(crate) bytes: Arc<[u8]>,
}

/// Export indices resolved once per component, so instantiation does no
/// string lookups.
pub(crate) struct ExportIndices {
    pub role: Vec<ComponentExportIndex>,
    pub lifecycle: Option<(ComponentExportIndex, ComponentExportIndex)>,
}

/// The function names of each role's interface, in the order `ExportIndices`
/// holds them.
pub(crate) fn role_functions(role: Role) -> &'static [&'static str] {
    match role {
        Role::Source => &["pull", "notify-backpressure"],
        Role::Processor => &["process"],
        Role::Sink => &["push", "complete"],
        Role::Filter => &["evaluate"],
        Role::Router => &["route"],
        Role::Aggregator => &["ingest", "flush"],
    }
}

/// A wasmtime engine with the linker holding every host import.
pub(crate) struct Wasm {
    pub(crate) engine: wasmtime::Engine,
    linker: Linker<StageState>,
    _ticking: ticker::Registration,
}

impl Wasm {
    /// An engine with the pooling allocator (`pooled`) or on demand.
    fn new(settings: &EngineSettings, pooled: bool) -> Result<Wasm, EngineError> {
        let cfg_err = |e: wasmtime::Error| EngineError::Config(e.to_string());
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .concurrency_support(false)
            .epoch_interruption(true)
            .max_wasm_stack(settings.max_stack_bytes)
            // No call is async; wasmtime still wants this at least as large.
            .async_stack_size(settings.max_stack_bytes.max(2 << 20) + (64 << 10))
            .consume_fuel(settings.fuel);
        if pooled {
            let mut pool = PoolingAllocationConfig::default();
            let n = settings.max_instances.max(1);
            // Slots take address space, not memory: each linear memory slot
            // reserves 4 GiB (so bounds checks stay free); a flow's own limit
            // is enforced per store. No fiber stacks: no call is async, and
            // each pooled stack would cost mappings of its own.
            pool.total_component_instances(n)
                .total_core_instances(n.saturating_mul(4))
                .total_memories(n)
                .total_tables(n.saturating_mul(4))
                .total_stacks(0)
                .max_memory_size(settings.max_memory_bytes as usize);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        } else {
            config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
        }
        let engine = wasmtime::Engine::new(&config).map_err(|e| {
            EngineError::Config(format!(
                "{e}; an instance pool of {} slots reserves about 4 GiB of address space per slot: lower `max_instances`",
                settings.max_instances
            ))
        })?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(cfg_err)?;
        super::blocking::add_to_linker(&mut linker).map_err(cfg_err)?;
        host_types::add_to_linker(&mut linker).map_err(cfg_err)?;
        let ticking = ticker::register(&engine).map_err(|e| EngineError::Config(format!("cannot start the epoch ticker thread: {e}")))?;
        Ok(Wasm {
            engine,
            linker,
            _ticking: ticking,
        })
    }
}

/// The wasmtime engine (pooled instances), its on-demand twin for when the
/// pool is full, and the component cache. Shared by every host of the
/// process with the same settings ([`Engine::shared`]).
pub struct Engine {
    /// The engine with the instance pool, and its linker.
    pooled: Wasm,
    /// Made the first time the pool is full.
    overflow: OnceLock<Result<Wasm, String>>,
    /// Components by content hash and display name (so each host's errors
    /// use its own name for a component). Bounded: the oldest entry goes
    /// first; flows using it keep their own reference.
    cache: Mutex<ComponentCache>,
    pub(crate) settings: EngineSettings,
}

/// Engines alive in this process, by settings.
static SHARED: Mutex<Vec<(EngineSettings, Weak<Engine>)>> = Mutex::new(Vec::new());

impl Engine {
    /// A new engine of its own (hosts use [`Engine::shared`]).
    pub fn new(settings: EngineSettings) -> Result<Self, EngineError> {
        Ok(Engine {
            pooled: Wasm::new(&settings, true)?,
            overflow: OnceLock::new(),
            cache: Mutex::new(ComponentCache::default()),
            settings,
        })
    }

    /// The process's engine for `settings`, made if no live one exists. A
    /// process keeping hundreds of hosts thus reserves one instance pool
    /// (per distinct settings), compiles each component once, and runs one
    /// epoch ticker.
    pub fn shared(settings: EngineSettings) -> Result<Arc<Engine>, EngineError> {
        // Hosts differ in their memory ceilings, not in what an engine
        // reserves: the ceiling is enforced per store, so one engine (per
        // pool size) serves them all.
        let settings = EngineSettings {
            max_memory_bytes: MAX_LINEAR_MEMORY,
            ..settings
        };
        let mut shared = SHARED.lock();
        shared.retain(|(_, e)| e.strong_count() > 0);
        if let Some(engine) = shared.iter().find(|(s, _)| *s == settings).and_then(|(_, e)| e.upgrade()) {
            return Ok(engine);
        }
        let engine = Arc::new(Engine::new(settings.clone())?);
        shared.push((settings, Arc::downgrade(&engine)));
        Ok(engine)
    }

    /// The wasmtime engine instances are made with while the pool has room.
    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.pooled.engine
    }

    /// The on-demand engine and `component` prepared for it.
    pub(crate) fn overflow<'a>(
        &'a self,
        component: &'a CompiledComponent,
    ) -> Result<(&'a wasmtime::Engine, &'a InstancePre<StageState>, &'a ExportIndices), String> {
        let wasm = self
            .overflow
            .get_or_init(|| {
                log::info!(
                    "the instance pool ({} instances) is full; further instances are allocated on demand",
                    self.settings.max_instances
                );
                Wasm::new(&self.settings, false).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)?;
        let pre = component
            .overflow
            .get_or_init(|| {
                let c = Component::new(&wasm.engine, &component.bytes).map_err(|e| format!("{e:#}"))?;
                let indices = resolve_indices(&component.name, &c, &component.exports).map_err(|e| e.to_string())?;
                let pre = wasm.linker.instantiate_pre(&c).map_err(|e| format!("{e:#}"))?;
                Ok((pre, indices))
            })
            .as_ref()
            .map_err(Clone::clone)?;
        Ok((&wasm.engine, &pre.0, &pre.1))
    }

    /// Compile (or fetch from the cache) the component at `path`.
    pub fn compile_file(&self, name: &str, path: &Path) -> Result<Arc<CompiledComponent>, EngineError> {
        let bytes = std::fs::read(path).map_err(|source| EngineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.compile_bytes(name, &bytes)
    }

    /// What a component file is, without linking it: its size, digest, the
    /// names it imports and exports, and the contract world it implements
    /// (or why it implements none).
    pub fn inspect(&self, name: &str, bytes: &[u8]) -> Result<Inspection, EngineError> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let component = self.compile_or_reuse(name, digest, bytes)?;
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(&self.pooled.engine).map(|(n, _)| n.to_string()).collect();
        let exports: Vec<String> = ty.exports(&self.pooled.engine).map(|(n, _)| n.to_string()).collect();
        let contract = contracts::detect(name, exports.iter().map(String::as_str));
        Ok(Inspection {
            name: name.to_string(),
            size: bytes.len(),
            digest,
            imports,
            exports,
            contract,
        })
    }

    /// Compile (or fetch from the cache) a component from its bytes.
    pub fn compile_bytes(&self, name: &str, bytes: &[u8]) -> Result<Arc<CompiledComponent>, EngineError> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(hit) = self.cache.lock().get(&digest, name) {
            return Ok(hit);
        }
        let component = self.compile_or_reuse(name, digest, bytes)?;
        let ty = component.component_type();
        let exports = contracts::detect(name, ty.exports(&self.pooled.engine).map(|(n, _)| n))?;
        let indices = resolve_indices(name, &component, &exports)?;
        let imports: Vec<String> = ty.imports(&self.pooled.engine).map(|(n, _)| n.to_string()).collect();
        let pre = self.pooled.linker.instantiate_pre(&component).map_err(|e| {
            let missing = contracts::unprovided(ty.imports(&self.pooled.engine).map(|(n, _)| n));
            if missing.is_empty() {
                EngineError::Link {
                    component: name.to_string(),
                    reason: format!("{e:#}"),
                }
            } else {
                EngineError::MissingImports {
                    component: name.to_string(),
                    imports: missing,
                }
            }
        })?;
        log::debug!("compiled component `{name}` ({} bytes) as {}", bytes.len(), exports.role);
        let compiled = Arc::new(CompiledComponent {
            name: name.to_string(),
            size: bytes.len(),
            digest,
            exports,
            imports,
            pre,
            indices,
            overflow: OnceLock::new(),
            bytes: Arc::from(bytes),
        });
        self.cache.lock().insert(digest, name, Arc::clone(&compiled));
        Ok(compiled)
    }
}

/// Compiled components an engine keeps ready, oldest first.
#[derive(Default)]
struct ComponentCache {
    entries: HashMap<([u8; 32], String), Arc<CompiledComponent>>,
    order: std::collections::VecDeque<([u8; 32], String)>,
}

/// Components an engine keeps compiled (a process that loads many distinct
/// components, e.g. one per tenant, does not grow without bound).
const MAX_COMPONENTS: usize = 256;

impl ComponentCache {
    fn get(&self, digest: &[u8; 32], name: &str) -> Option<Arc<CompiledComponent>> {
        self.entries.get(&(*digest, name.to_string())).cloned()
    }

    fn insert(&mut self, digest: [u8; 32], name: &str, component: Arc<CompiledComponent>) {
        let key = (digest, name.to_string());
        if self.entries.insert(key.clone(), component).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > MAX_COMPONENTS {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
    }
}

/// Machine code of components compiled earlier in this process, by engine
/// settings and content hash, so a new host (same settings) does not compile
/// again. Bounded: the oldest entries go first.
static ARTIFACTS: Mutex<Vec<((EngineSettings, [u8; 32]), Arc<[u8]>)>> = Mutex::new(Vec::new());
const MAX_ARTIFACTS: usize = 64;

impl Engine {
    fn compile_or_reuse(&self, name: &str, digest: [u8; 32], bytes: &[u8]) -> Result<Component, EngineError> {
        let key = (self.settings.clone(), digest);
        let cached = ARTIFACTS.lock().iter().find(|(k, _)| *k == key).map(|(_, a)| Arc::clone(a));
        if let Some(artifact) = cached {
            // SAFETY: `artifact` is the output of `Component::serialize` on an
            // engine with the same settings in this same process; it was
            // never outside this process's memory. wasmtime still checks
            // that it matches this engine's configuration.
            match unsafe { Component::deserialize(&self.pooled.engine, &artifact) } {
                Ok(c) => return Ok(c),
                Err(e) => log::debug!("cached artifact for `{name}` not usable, compiling: {e}"),
            }
        }
        let disk = self.settings.cache.as_ref().map(|d| (d, super::disk_cache::DiskCache::key(&self.pooled.engine, &digest)));
        if let Some((disk, disk_key)) = &disk {
            if let Some(artifact) = disk.load(disk_key) {
                // SAFETY: the entry is in a directory only this user may
                // write, was written whole (temporary file, then rename) by
                // `Component::serialize` of an engine with the same
                // compatibility hash (the key), and its checksum matched
                // (see `disk_cache`). wasmtime checks its version and
                // configuration header again.
                match unsafe { Component::deserialize(&self.pooled.engine, &artifact) } {
                    Ok(c) => {
                        log::debug!("`{name}` loaded compiled from `{}`", disk.dir().display());
                        remember(key, Arc::from(artifact));
                        return Ok(c);
                    }
                    Err(e) => {
                        log::warn!("compiled-component cache entry for `{name}` refused by wasmtime ({e}); removed, compiling again");
                        disk.discard(disk_key);
                    }
                }
            }
        }
        let component = Component::new(&self.pooled.engine, bytes).map_err(|e| EngineError::Compile {
            component: name.to_string(),
            reason: format!("{e:#}"),
        })?;
        if let Ok(artifact) = component.serialize() {
            if let Some((disk, disk_key)) = &disk {
                disk.store(disk_key, name, &digest, &artifact);
            }
            remember(key, Arc::from(artifact));
        }
        Ok(component)
    }
}

/// Keep `artifact` in this process's memory (oldest entries go first).
fn remember(key: (EngineSettings, [u8; 32]), artifact: Arc<[u8]>) {
    let mut cache = ARTIFACTS.lock();
    if cache.len() >= MAX_ARTIFACTS {
        cache.remove(0);
    }
    cache.push((key, artifact));
}

fn resolve_indices(name: &str, component: &Component, exports: &Exports) -> Result<ExportIndices, EngineError> {
    let missing = |what: &str| EngineError::Link {
        component: name.to_string(),
        reason: format!("export `{what}` is missing"),
    };
    let iface = component
        .get_export_index(None, &exports.role_export)
        .ok_or_else(|| missing(&exports.role_export))?;
    let role = role_functions(exports.role)
        .iter()
        .map(|f| {
            component
                .get_export_index(Some(&iface), f)
                .ok_or_else(|| missing(&format!("{}#{f}", exports.role_export)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let lifecycle = match &exports.lifecycle {
        Some(l) => {
            let li = component.get_export_index(None, l).ok_or_else(|| missing(l))?;
            let init = component
                .get_export_index(Some(&li), "init")
                .ok_or_else(|| missing(&format!("{l}#init")))?;
            let teardown = component
                .get_export_index(Some(&li), "teardown")
                .ok_or_else(|| missing(&format!("{l}#teardown")))?;
            Some((init, teardown))
        }
        None => None,
    };
    Ok(ExportIndices { role, lifecycle })
}
