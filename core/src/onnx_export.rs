//! Export of one network of a model file as an ONNX graph (opset 17, IR version 8), so that a
//! Beeline model runs in ONNX Runtime or anything else that reads ONNX.
//!
//! What is exported is a *network*, not a sampler: one evaluation of the velocity field (or of
//! one of CAF's two networks), exactly the function [`Network::forward`](crate::nn::Network::forward)
//! computes, built from the same plan ([`UnetConfig::layers`], [`MlpConfig`]). Samplers,
//! guidance and the noise stay the caller's.
//!
//! **Inputs** (`N` is a free batch dimension):
//!
//! | name | type | shape | meaning |
//! |---|---|---|---|
//! | `x` | float32 | `[N, C, H, W]` (UNet) or `[N, D]` (MLP) | the state `x_t` |
//! | `t` | float32 | `[N]` | Beeline time per sample: 0 = noise, 1 = data (the graph embeds `1000·t`, as [`net_time`](crate::time::net_time)) |
//! | `y` | int64 | `[N]` | only for class-conditional models: the class `0..K`, or `K` (also `-1`) for the null class (unconditional; classifier-free guidance) |
//! | `cond` | float32 | same as `x` | only for CAF's `acceleration` network: v̂0, concatenated to `x` |
//!
//! **Output**: one float32 tensor shaped like `x`, named after the network's role: `velocity`
//! (`x1 − x0`), `initial_velocity` (CAF's `h·(x1 − x0)`) or `acceleration`.
//!
//! Weights are float32 initializers named as in the model file (`velocity.conv_in.weight`, ...;
//! GroupNorm's affine and attention's 1×1 projections are reshaped for broadcasting/Conv, the
//! values unchanged). Only standard ONNX operators are used: Conv, Gemm, MatMul, Sigmoid·Mul
//! (SiLU), InstanceNormalization on a `[N, groups, ·]` view (GroupNorm, which ONNX only has from
//! opset 18 on), Resize (nearest, `asymmetric`/`floor`: the CPU's nearest ×2), Gather (the class
//! table), Softmax, Split, Transpose, Reshape, Concat, Unsqueeze, Cast, Cos, Sin. The sinusoidal
//! time embedding is computed in float64 (`Cast`, `Mul`, `Cos`, `Sin`), as the CPU reference
//! does, so both round the same values to f32; everything else is float32.

mod wire;

use crate::config::{ArchConfig, MlpConfig, ModelConfig, NetRole, UnetConfig, UnetLayer, GROUPNORM_EPS};
use crate::error::{Error, Result};
use crate::modelfile::ModelFile;
use crate::weights::Weights;
use std::collections::{BTreeMap, HashMap};
use wire::Message;

/// The ONNX operator set the graph is written for.
pub const OPSET: i64 = 17;
/// The ONNX IR version written (ONNX 1.13+, ONNX Runtime 1.14+).
pub const IR_VERSION: i64 = 8;
/// Largest file a single protobuf message can be (2 GiB); this export writes no external data.
pub const MAX_BYTES: usize = (2 << 30) - 1;

// TensorProto.DataType
const FLOAT: i64 = 1;
const INT64: i64 = 7;
const DOUBLE: i64 = 11;

/// Element type of a graph input or output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemType {
    /// IEEE binary32.
    Float32,
    /// Signed 64-bit integer.
    Int64,
}

impl ElemType {
    /// The numpy-style name: `float32` or `int64`.
    pub fn name(self) -> &'static str {
        match self {
            ElemType::Float32 => "float32",
            ElemType::Int64 => "int64",
        }
    }
    fn code(self) -> i64 {
        match self {
            ElemType::Float32 => FLOAT,
            ElemType::Int64 => INT64,
        }
    }
}

/// One dimension of a graph input or output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    /// The free batch dimension, named `N` in the file.
    Batch,
    /// A fixed size.
    Fixed(usize),
}

/// A graph input or output: name, element type and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueSpec {
    /// The name ONNX Runtime's `run` takes or returns it under.
    pub name: String,
    /// Element type.
    pub dtype: ElemType,
    /// Shape, the batch dimension first.
    pub shape: Vec<Dim>,
    /// What it holds.
    pub doc: String,
}

impl ValueSpec {
    /// The shape as text, e.g. `[N, 1, 28, 28]`.
    pub fn shape_text(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(|d| match d {
            Dim::Batch => "N".to_string(),
            Dim::Fixed(n) => n.to_string(),
        }).collect();
        format!("[{}]", dims.join(", "))
    }
}

/// An exported graph: the `.onnx` file's bytes and what they hold.
#[derive(Clone, Debug)]
pub struct OnnxGraph {
    /// The serialised `ModelProto`.
    pub bytes: Vec<u8>,
    /// The network exported.
    pub network: NetRole,
    /// Graph inputs, in order.
    pub inputs: Vec<ValueSpec>,
    /// Graph outputs (one).
    pub outputs: Vec<ValueSpec>,
    /// Number of nodes.
    pub nodes: usize,
    /// Nodes per operator type.
    pub ops: BTreeMap<String, usize>,
    /// Number of initializers (weights and constants).
    pub initializers: usize,
    /// Scalars of the network's weights (equal to `ArchConfig::num_params`).
    pub params: usize,
}

/// The network to export from `config` when none is named: the only one, or an
/// [`Error::InvalidInput`] that names the choices (CAF models have two).
pub fn default_network(config: &ModelConfig) -> Result<NetRole> {
    let roles: Vec<NetRole> = config.networks.keys().copied().collect();
    match roles.as_slice() {
        [only] => Ok(*only),
        _ => Err(Error::InvalidInput(format!(
            "this model has {} networks ({}); an ONNX graph holds one network evaluation, so name one ({}). \
             For CAF, `initial_velocity` is v0(x_t, t), `acceleration` is a(concat[x_t, v̂0], t); the CAF \
             sampler that combines them (x_t = x0 + v0·t + ½a·t²) is not exported",
            roles.len(),
            roles.iter().map(|r| r.prefix()).collect::<Vec<_>>().join(", "),
            roles.iter().map(|r| r.prefix()).collect::<Vec<_>>().join(" or ")
        ))),
    }
}

/// A network role from its name (`velocity`, `initial_velocity` / `initial-velocity`,
/// `acceleration`).
pub fn network_by_name(name: &str) -> Result<NetRole> {
    let want = name.trim().to_ascii_lowercase().replace('-', "_");
    [NetRole::Velocity, NetRole::InitialVelocity, NetRole::Acceleration]
        .into_iter()
        .find(|r| r.prefix() == want)
        .ok_or_else(|| Error::InvalidInput(format!("unknown network {name:?}; use velocity, initial_velocity or acceleration")))
}

/// Exports network `network` of a validated model file (`None`: [`default_network`]). The
/// model's config JSON goes into the file's metadata (`beeline.config`).
pub fn export_model(file: &ModelFile, network: Option<NetRole>) -> Result<OnnxGraph> {
    let role = match network {
        Some(r) => r,
        None => default_network(&file.config)?,
    };
    let arch = file.config.networks.get(&role).ok_or_else(|| {
        let have: Vec<&str> = file.config.networks.keys().map(|r| r.prefix()).collect();
        Error::InvalidInput(format!("this model has no `{}` network (it has {})", role.prefix(), have.join(", ")))
    })?;
    let config_json = serde_json::to_string(&file.config).map_err(|e| Error::BadConfig(e.to_string()))?;
    let mut meta = vec![("beeline.config".to_string(), config_json)];
    if !file.config.classes.is_empty() {
        meta.push(("beeline.classes".into(), serde_json::Value::from(file.config.classes.clone()).to_string()));
    }
    export_network(arch, &file.weights, role, &meta)
}

/// Exports the network `arch` whose tensors are `"<role prefix>.<param>"` in `weights`, with
/// extra `(key, value)` metadata. Errors: [`Error::BadConfig`] if `arch` does not validate,
/// [`Error::MissingTensor`] / [`Error::WrongShape`] for a missing or misshapen weight,
/// [`Error::InvalidInput`] if the graph would exceed [`MAX_BYTES`].
pub fn export_network(arch: &ArchConfig, weights: &Weights, role: NetRole, metadata: &[(String, String)]) -> Result<OnnxGraph> {
    arch.validate()?;
    let prefix = role.prefix();
    for spec in arch.params() {
        weights.get(&format!("{prefix}.{}", spec.name), &spec.shape)?;
    }
    let sample: Vec<Dim> = arch.sample_shape().into_iter().map(Dim::Fixed).collect();
    let batched = |s: &[Dim]| std::iter::once(Dim::Batch).chain(s.iter().copied()).collect::<Vec<_>>();
    let mut inputs = vec![
        ValueSpec { name: "x".into(), dtype: ElemType::Float32, shape: batched(&sample), doc: "the state x_t".into() },
        ValueSpec {
            name: "t".into(),
            dtype: ElemType::Float32,
            shape: vec![Dim::Batch],
            doc: "Beeline time per sample: 0 = noise, 1 = data (the network embeds 1000·t)".into(),
        },
    ];
    let classes = arch.num_classes();
    if classes > 0 {
        inputs.push(ValueSpec {
            name: "y".into(),
            dtype: ElemType::Int64,
            shape: vec![Dim::Batch],
            doc: format!("class label 0..{}, or {classes} (also -1) for the null class (unconditional, guidance)", classes - 1),
        });
    }
    if arch.cond_numel() > 0 {
        inputs.push(ValueSpec { name: "cond".into(), dtype: ElemType::Float32, shape: batched(&sample), doc: "CAF's v̂0, concatenated to x".into() });
    }
    let out_doc = match role {
        NetRole::Velocity => "the velocity x1 − x0",
        NetRole::InitialVelocity => "CAF's initial velocity h·(x1 − x0)",
        NetRole::Acceleration => "CAF's acceleration",
    };
    let outputs = vec![ValueSpec { name: prefix.into(), dtype: ElemType::Float32, shape: batched(&sample), doc: out_doc.into() }];

    let mut g = Graph::new(weights, prefix);
    match arch {
        ArchConfig::Mlp(m) => mlp(&mut g, m, prefix)?,
        ArchConfig::Unet(u) => unet(&mut g, u, prefix)?,
    }

    let mut graph = Message::new();
    for n in &g.nodes {
        graph.message(1, n);
    }
    graph.string(2, &format!("beeline_{prefix}"));
    for t in &g.initializers {
        graph.message(5, t);
    }
    graph.string(10, &format!(
        "Beeline `{prefix}` network ({}), one evaluation. Inputs: {}. Output: {}.",
        arch_summary(arch),
        inputs.iter().map(|v| format!("{} {} {} ({})", v.name, v.dtype.name(), v.shape_text(), v.doc)).collect::<Vec<_>>().join("; "),
        outputs.iter().map(|v| format!("{} {} {} ({})", v.name, v.dtype.name(), v.shape_text(), v.doc)).collect::<Vec<_>>().join("; ")
    ));
    for v in &inputs {
        graph.message(11, &value_info(v));
    }
    for v in &outputs {
        graph.message(12, &value_info(v));
    }

    let mut model = Message::new();
    model.int(1, IR_VERSION);
    model.string(2, "beeline");
    model.string(3, env!("CARGO_PKG_VERSION"));
    model.string(6, &format!("Beeline `{prefix}` network; Beeline time t: 0 = noise, 1 = data. The sampler is not part of the graph."));
    model.message(7, &graph);
    let mut opset = Message::new();
    opset.string(1, "").int(2, OPSET);
    model.message(8, &opset);
    let mut props: Vec<(String, String)> = vec![
        ("beeline.network".into(), prefix.into()),
        ("beeline.time".into(), "t: Beeline time per sample, 0 = noise, 1 = data; x_t = t·x1 + (1 − t)·x0".into()),
    ];
    if classes > 0 {
        props.push(("beeline.null_label".into(), classes.to_string()));
    }
    props.extend(metadata.iter().cloned());
    for (k, v) in &props {
        let mut e = Message::new();
        e.string(1, k).string(2, v);
        model.message(14, &e);
    }
    if model.len() > MAX_BYTES {
        return Err(Error::InvalidInput(format!(
            "the ONNX graph would be {} bytes, over protobuf's 2 GiB limit (external weight files are not supported)",
            model.len()
        )));
    }
    let params = arch.num_params();
    debug_assert_eq!(params, g.weight_scalars);
    Ok(OnnxGraph { bytes: model.into_bytes(), network: role, inputs, outputs, nodes: g.nodes.len(), ops: g.ops, initializers: g.initializers.len(), params })
}

fn arch_summary(arch: &ArchConfig) -> String {
    match arch {
        ArchConfig::Mlp(m) => format!("MLP, dim {}, hidden {}, depth {}", m.dim, m.hidden, m.depth),
        ArchConfig::Unet(u) => format!("UNet, {}×{}×{}, base {}, mult {:?}", u.channels, u.height, u.width, u.base_channels, u.channel_mult),
    }
}

fn value_info(v: &ValueSpec) -> Message {
    let mut shape = Message::new();
    for d in &v.shape {
        let mut dim = Message::new();
        match d {
            Dim::Batch => dim.string(2, "N"),
            Dim::Fixed(n) => dim.int(1, *n as i64),
        };
        shape.message(1, &dim);
    }
    let mut tensor = Message::new();
    tensor.int(1, v.dtype.code()).message(2, &shape);
    let mut ty = Message::new();
    ty.message(1, &tensor);
    let mut info = Message::new();
    info.string(1, &v.name).message(2, &ty).string(3, &v.doc);
    info
}

/// A node attribute.
enum Attr<'a> {
    Int(&'a str, i64),
    Ints(&'a str, &'a [i64]),
    Float(&'a str, f32),
    Str(&'a str, &'a str),
}

impl Attr<'_> {
    fn encode(&self) -> Message {
        // AttributeProto: name 1, f 2, i 3, s 4, ints 8, type 20 (FLOAT 1, INT 2, STRING 3, INTS 7).
        let mut a = Message::new();
        match self {
            Attr::Int(n, v) => a.string(1, n).int(3, *v).int(20, 2),
            Attr::Ints(n, vs) => {
                a.string(1, n);
                for v in *vs {
                    a.int(8, *v);
                }
                a.int(20, 7)
            }
            Attr::Float(n, v) => a.string(1, n).float(2, *v).int(20, 1),
            Attr::Str(n, s) => a.string(1, n).bytes(4, s.as_bytes()).int(20, 3),
        };
        a
    }
}

/// The graph under construction: nodes in topological order, initializers, unique names.
struct Graph<'w> {
    weights: &'w Weights,
    prefix: &'w str,
    nodes: Vec<Message>,
    initializers: Vec<Message>,
    ops: BTreeMap<String, usize>,
    /// Constants already written, by a key of their type and values.
    consts: HashMap<String, String>,
    next: usize,
    /// Scalars of model weights written (a check against `num_params`).
    weight_scalars: usize,
}

fn tensor(name: &str, dims: &[usize], dtype: i64, raw: &[u8]) -> Message {
    // TensorProto: dims 1, data_type 2, name 8, raw_data 9 (little-endian).
    let mut t = Message::new();
    for d in dims {
        t.int(1, *d as i64);
    }
    t.int(2, dtype).string(8, name).bytes(9, raw);
    t
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl<'w> Graph<'w> {
    fn new(weights: &'w Weights, prefix: &'w str) -> Self {
        Graph { weights, prefix, nodes: Vec::new(), initializers: Vec::new(), ops: BTreeMap::new(), consts: HashMap::new(), next: 0, weight_scalars: 0 }
    }

    /// A node with `outputs` outputs named `<scope>/<op>_<k>` (or `out` for a single output).
    fn node_n(&mut self, op: &str, scope: &str, inputs: &[&str], attrs: &[Attr<'_>], outputs: usize, out: Option<&str>) -> Vec<String> {
        let k = self.next;
        self.next += 1;
        let names: Vec<String> = match out {
            Some(o) if outputs == 1 => vec![o.to_string()],
            _ => (0..outputs).map(|i| format!("{scope}/{op}_{k}{}", if outputs > 1 { format!(":{i}") } else { String::new() })).collect(),
        };
        // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
        let mut n = Message::new();
        for i in inputs {
            n.string(1, i);
        }
        for o in &names {
            n.string(2, o);
        }
        n.string(3, &format!("{scope}/{op}_{k}")).string(4, op);
        for a in attrs {
            n.message(5, &a.encode());
        }
        self.nodes.push(n);
        *self.ops.entry(op.to_string()).or_default() += 1;
        names
    }

    fn op(&mut self, op: &str, scope: &str, inputs: &[&str], attrs: &[Attr<'_>]) -> String {
        self.node_n(op, scope, inputs, attrs, 1, None).remove(0)
    }

    /// The model weight `<prefix>.<param>` (checked against `shape`), as an initializer of
    /// the same name with dims `dims` (same number of values).
    fn weight(&mut self, param: &str, shape: &[usize], dims: &[usize]) -> Result<String> {
        let name = format!("{}.{param}", self.prefix);
        let data = self.weights.get(&name, shape)?;
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        self.initializers.push(tensor(&name, dims, FLOAT, &le_f32(data)));
        self.weight_scalars += data.len();
        Ok(name)
    }

    fn constant(&mut self, key: String, dims: &[usize], dtype: i64, raw: Vec<u8>) -> String {
        if let Some(n) = self.consts.get(&key) {
            return n.clone();
        }
        let name = format!("const/{}", self.consts.len());
        self.initializers.push(tensor(&name, dims, dtype, &raw));
        self.consts.insert(key, name.clone());
        name
    }

    /// A 1-D int64 constant (shapes, axes).
    fn ints(&mut self, v: &[i64]) -> String {
        self.constant(format!("i64{v:?}"), &[v.len()], INT64, v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    /// A float32 constant of shape `dims`.
    fn floats(&mut self, dims: &[usize], v: &[f32]) -> String {
        let bits: Vec<u32> = v.iter().map(|x| x.to_bits()).collect();
        self.constant(format!("f32{dims:?}{bits:?}"), dims, FLOAT, le_f32(v))
    }

    fn silu(&mut self, scope: &str, x: &str) -> String {
        let s = self.op("Sigmoid", scope, &[x], &[]);
        self.op("Mul", scope, &[x, &s], &[])
    }

    /// `x·Wᵀ + b` for `x` `[N, fin]` with the linear `<name>` (`[fout, fin]`, `[fout]`).
    fn linear(&mut self, name: &str, x: &str, fin: usize, fout: usize) -> Result<String> {
        let w = self.weight(&format!("{name}.weight"), &[fout, fin], &[fout, fin])?;
        let b = self.weight(&format!("{name}.bias"), &[fout], &[fout])?;
        Ok(self.op("Gemm", name, &[x, &w, &b], &[Attr::Int("transB", 1)]))
    }

    /// A `k×k` convolution `<name>` (`[cout, cin, k, k]`), padding `k/2`, stride `stride`.
    fn conv(&mut self, name: &str, x: &str, cin: usize, cout: usize, k: usize, stride: i64, out: Option<&str>) -> Result<String> {
        let w = self.weight(&format!("{name}.weight"), &[cout, cin, k, k], &[cout, cin, k, k])?;
        let b = self.weight(&format!("{name}.bias"), &[cout], &[cout])?;
        let (ki, p) = (k as i64, (k / 2) as i64);
        let (kernel, pads, strides) = ([ki, ki], [p, p, p, p], [stride, stride]);
        let attrs = [Attr::Ints("kernel_shape", &kernel), Attr::Ints("pads", &pads), Attr::Ints("strides", &strides)];
        Ok(self.node_n("Conv", name, &[x, &w, &b], &attrs, 1, out).remove(0))
    }

    /// A linear over channels (`[fout, fin]`) applied per pixel, as a 1×1 Conv.
    fn pixel_linear(&mut self, name: &str, x: &str, fin: usize, fout: usize) -> Result<String> {
        let w = self.weight(&format!("{name}.weight"), &[fout, fin], &[fout, fin, 1, 1])?;
        let b = self.weight(&format!("{name}.bias"), &[fout], &[fout])?;
        Ok(self.op("Conv", name, &[x, &w, &b], &[Attr::Ints("kernel_shape", &[1, 1])]))
    }

    /// GroupNorm `<name>` of `x` `[N, c, h, w]` with `groups` groups: InstanceNormalization of the
    /// `[N, groups, c/groups·h·w]` view (biased variance, eps [`GROUPNORM_EPS`]), then the
    /// per-channel affine.
    fn group_norm(&mut self, name: &str, x: &str, c: usize, groups: usize, h: usize, w: usize) -> Result<String> {
        let gamma = self.weight(&format!("{name}.weight"), &[c], &[c, 1, 1])?;
        let beta = self.weight(&format!("{name}.bias"), &[c], &[c, 1, 1])?;
        let grouped = self.ints(&[0, groups as i64, -1]);
        let image = self.ints(&[0, c as i64, h as i64, w as i64]);
        let ones = self.floats(&[groups], &vec![1.0; groups]);
        let zeros = self.floats(&[groups], &vec![0.0; groups]);
        let r = self.op("Reshape", name, &[x, &grouped], &[]);
        let n = self.op("InstanceNormalization", name, &[&r, &ones, &zeros], &[Attr::Float("epsilon", GROUPNORM_EPS)]);
        let b = self.op("Reshape", name, &[&n, &image], &[]);
        let m = self.op("Mul", name, &[&b, &gamma], &[]);
        Ok(self.op("Add", name, &[&m, &beta], &[]))
    }

    /// The sinusoidal embedding of `1000·t` (`t` `[N]`), width `dim`: `[N, dim]`, cos then sin,
    /// the arguments and cos/sin in float64 as in [`crate::nn::embed::sinusoidal`].
    fn time_embedding(&mut self, t: &str, dim: usize) -> Result<String> {
        if dim == 0 || dim % 2 != 0 {
            return Err(Error::BadConfig(format!("time embedding width {dim} must be even and positive")));
        }
        let half = dim / 2;
        let s = "time.embed";
        // net_time: (1000·t) rounded to f32; the f32 product is that rounding.
        let thousand = self.floats(&[], &[crate::time::net_time(1.0)]);
        let tau = self.op("Mul", s, &[t, &thousand], &[]);
        let axis1 = self.ints(&[1]);
        let col = self.op("Unsqueeze", s, &[&tau, &axis1], &[]);
        let col64 = self.op("Cast", s, &[&col], &[Attr::Int("to", DOUBLE)]);
        let freqs: Vec<u8> = (0..half).flat_map(|i| crate::nn::embed::frequency(i, half).to_le_bytes()).collect();
        let f = self.constant(format!("freq{half}"), &[1, half], DOUBLE, freqs);
        let arg = self.op("Mul", s, &[&col64, &f], &[]);
        let cos = self.op("Cos", s, &[&arg], &[]);
        let sin = self.op("Sin", s, &[&arg], &[]);
        let cos32 = self.op("Cast", s, &[&cos], &[Attr::Int("to", FLOAT)]);
        let sin32 = self.op("Cast", s, &[&sin], &[Attr::Int("to", FLOAT)]);
        Ok(self.op("Concat", s, &[&cos32, &sin32], &[Attr::Int("axis", 1)]))
    }

    /// `lin2(SiLU(lin1(embed(t))))` plus the class row of `y` when `classes > 0`: `[N, width]`.
    fn time_class_embedding(&mut self, embed_dim: usize, width: usize, classes: usize) -> Result<String> {
        let emb = self.time_embedding("t", embed_dim)?;
        let e1 = self.linear("time.lin1", &emb, embed_dim, width)?;
        let a1 = self.silu("time.lin1", &e1);
        let e = self.linear("time.lin2", &a1, width, width)?;
        if classes == 0 {
            return Ok(e);
        }
        let table = self.weight("class_embed.weight", &[classes + 1, width], &[classes + 1, width])?;
        let row = self.op("Gather", "class_embed", &[&table, "y"], &[Attr::Int("axis", 0)]);
        Ok(self.op("Add", "class_embed", &[&e, &row], &[]))
    }
}

/// The MLP of [`MlpConfig`].
fn mlp(g: &mut Graph<'_>, m: &MlpConfig, prefix: &str) -> Result<()> {
    let w = m.hidden;
    let e = g.time_class_embedding(m.time_embed_dim, w, m.num_classes)?;
    let xin = if m.cond_dim > 0 { g.op("Concat", "input", &["x", "cond"], &[Attr::Int("axis", 1)]) } else { "x".to_string() };
    let i = g.linear("input", &xin, m.dim + m.cond_dim, w)?;
    let mut h = g.op("Add", "input", &[&i, &e], &[]);
    for k in 0..m.depth {
        let name = format!("hidden.{k}");
        let a = g.silu(&name, &h);
        h = g.linear(&name, &a, w, w)?;
    }
    let a = g.silu("output", &h);
    let wt = g.weight("output.weight", &[m.dim, w], &[m.dim, w])?;
    let b = g.weight("output.bias", &[m.dim], &[m.dim])?;
    g.node_n("Gemm", "output", &[&a, &wt, &b], &[Attr::Int("transB", 1)], 1, Some(prefix));
    Ok(())
}

/// The UNet of [`UnetConfig`], layer by layer from [`UnetConfig::layers`] (the CPU's plan).
fn unet(g: &mut Graph<'_>, u: &UnetConfig, prefix: &str) -> Result<()> {
    let (c, td, groups) = (u.base_channels, u.temb_dim(), u.groups);
    let temb = g.time_class_embedding(c, td, u.num_classes)?;
    // The residual blocks only use SiLU(temb).
    let temb_act = g.silu("time", &temb);
    let x0 = if u.cond_channels > 0 { g.op("Concat", "conv_in", &["x", "cond"], &[Attr::Int("axis", 1)]) } else { "x".to_string() };
    let broken = || Error::BadConfig("unet plan pops a skip it never pushed".into());
    let mut skips: Vec<String> = Vec::new();
    let mut cur = String::new();
    for layer in u.layers() {
        match layer {
            UnetLayer::ConvIn { cin, cout } => {
                cur = g.conv("conv_in", &x0, cin, cout, 3, 1, None)?;
                skips.push(cur.clone());
            }
            UnetLayer::Res { spec, h, w, concat_skip, push_skip } => {
                let input = if concat_skip {
                    let s = skips.pop().ok_or_else(broken)?;
                    g.op("Concat", &spec.name, &[&cur, &s], &[Attr::Int("axis", 1)])
                } else {
                    cur.clone()
                };
                let n = &spec.name;
                let (ci, co) = (spec.cin, spec.cout);
                let n1 = g.group_norm(&format!("{n}.norm1"), &input, ci, groups, h, w)?;
                let a1 = g.silu(&format!("{n}.norm1"), &n1);
                let h1 = g.conv(&format!("{n}.conv1"), &a1, ci, co, 3, 1, None)?;
                let tp = g.linear(&format!("{n}.temb"), &temb_act, td, co)?;
                let axes = g.ints(&[2, 3]);
                let tp4 = g.op("Unsqueeze", &format!("{n}.temb"), &[&tp, &axes], &[]);
                let h1 = g.op("Add", &format!("{n}.temb"), &[&h1, &tp4], &[]);
                let n2 = g.group_norm(&format!("{n}.norm2"), &h1, co, groups, h, w)?;
                let a2 = g.silu(&format!("{n}.norm2"), &n2);
                let h2 = g.conv(&format!("{n}.conv2"), &a2, co, co, 3, 1, None)?;
                let skip = if ci != co { g.conv(&format!("{n}.skip"), &input, ci, co, 1, 1, None)? } else { input };
                cur = g.op("Add", n, &[&skip, &h2], &[]);
                if push_skip {
                    skips.push(cur.clone());
                }
            }
            UnetLayer::Down { name, ch, .. } => {
                cur = g.conv(&name, &cur, ch, ch, 3, 2, None)?;
                skips.push(cur.clone());
            }
            UnetLayer::Attn { ch, h, w } => cur = attention(g, &cur, ch, u.attention_heads, groups, h, w)?,
            UnetLayer::Up { name, ch, .. } => {
                let scales = g.floats(&[4], &[1.0, 1.0, 2.0, 2.0]);
                let attrs = [Attr::Str("mode", "nearest"), Attr::Str("coordinate_transformation_mode", "asymmetric"), Attr::Str("nearest_mode", "floor")];
                let up = g.op("Resize", &name, &[&cur, "", &scales], &attrs);
                cur = g.conv(&name, &up, ch, ch, 3, 1, None)?;
            }
            UnetLayer::Out { cin, cout, h, w } => {
                let n = g.group_norm("out.norm", &cur, cin, groups, h, w)?;
                let a = g.silu("out.norm", &n);
                cur = g.conv("out.conv", &a, cin, cout, 3, 1, Some(prefix))?;
            }
        }
    }
    if cur != prefix {
        return Err(Error::BadConfig("unet plan does not end with its output layer".into()));
    }
    Ok(())
}

/// `x + proj(attn(GN(x)))` over the `h·w` pixels of `x` `[N, ch, h, w]`, as in
/// [`crate::nn::attention`]: q, k, v are consecutive channel blocks of the 1×1 `qkv`, head
/// `i` takes channels `i·d..(i+1)·d` of each, `softmax(q·kᵀ/√d)·v`.
fn attention(g: &mut Graph<'_>, x: &str, ch: usize, heads: usize, groups: usize, h: usize, w: usize) -> Result<String> {
    let s = "mid.attn";
    let d = ch / heads;
    let xn = g.group_norm("mid.attn.norm", x, ch, groups, h, w)?;
    let qkv = g.pixel_linear("mid.attn.qkv", &xn, ch, 3 * ch)?;
    let split_shape = g.ints(&[0, 3 * heads as i64, d as i64, (h * w) as i64]);
    let r = g.op("Reshape", s, &[&qkv, &split_shape], &[]);
    // q, k, v: [N, heads, d, L]
    let qkv3 = g.node_n("Split", s, &[&r], &[Attr::Int("axis", 1)], 3, None);
    let swap = [0, 1, 3, 2];
    let qt = g.op("Transpose", s, &[&qkv3[0]], &[Attr::Ints("perm", &swap)]);
    let scores = g.op("MatMul", s, &[&qt, &qkv3[1]], &[]); // [N, heads, L, L]
    let scale = g.floats(&[], &[1.0 / (d as f32).sqrt()]);
    let scaled = g.op("Mul", s, &[&scores, &scale], &[]);
    let p = g.op("Softmax", s, &[&scaled], &[Attr::Int("axis", -1)]);
    let pt = g.op("Transpose", s, &[&p], &[Attr::Ints("perm", &swap)]);
    let o = g.op("MatMul", s, &[&qkv3[2], &pt], &[]); // [N, heads, d, L]: (P·v)ᵀ per head
    let image = g.ints(&[0, ch as i64, h as i64, w as i64]);
    let o = g.op("Reshape", s, &[&o, &image], &[]);
    let y = g.pixel_linear("mid.attn.proj", &o, ch, ch)?;
    Ok(g.op("Add", s, &[x, &y], &[]))
}

#[cfg(test)]
mod tests {
    use super::wire::read::{all_bytes, all_ints, all_strings, fields, Value};
    use super::*;
    use crate::config::{Parameterization, SamplerDefaults, Solver, TimeGrid};
    use crate::nn::init::random_weights;
    use crate::presets;
    use std::collections::HashSet;

    /// A parsed graph: node op types, every node's inputs and outputs, initializer names and
    /// element counts, graph input and output names.
    struct Parsed {
        ir_version: i64,
        opset: i64,
        ops: Vec<String>,
        node_io: Vec<(Vec<String>, Vec<String>)>,
        inits: Vec<(String, usize)>,
        inputs: Vec<String>,
        outputs: Vec<String>,
        props: Vec<(String, String)>,
    }

    fn parse(bytes: &[u8]) -> Parsed {
        let m = fields(bytes).expect("a valid protobuf message");
        let graph = fields(all_bytes(&m, 7)[0]).unwrap();
        let opset = fields(all_bytes(&m, 8)[0]).unwrap();
        let names = |field: u32| -> Vec<String> { all_bytes(&graph, field).iter().map(|b| all_strings(&fields(b).unwrap(), 1)[0].clone()).collect() };
        let mut ops = Vec::new();
        let mut node_io = Vec::new();
        for n in all_bytes(&graph, 1) {
            let f = fields(n).unwrap();
            ops.push(all_strings(&f, 4)[0].clone());
            node_io.push((all_strings(&f, 1), all_strings(&f, 2)));
        }
        let inits = all_bytes(&graph, 5)
            .iter()
            .map(|b| {
                let f = fields(b).unwrap();
                let dims: usize = all_ints(&f, 1).iter().map(|&d| d as usize).product();
                let dtype = all_ints(&f, 2)[0];
                let raw = all_bytes(&f, 9)[0];
                let width = if dtype == DOUBLE || dtype == INT64 { 8 } else { 4 };
                assert_eq!(raw.len(), dims * width, "initializer bytes");
                (all_strings(&f, 8)[0].clone(), if dtype == FLOAT { dims } else { 0 })
            })
            .collect();
        let props = all_bytes(&m, 14)
            .iter()
            .map(|b| {
                let f = fields(b).unwrap();
                (all_strings(&f, 1)[0].clone(), all_strings(&f, 2)[0].clone())
            })
            .collect();
        Parsed {
            ir_version: all_ints(&m, 1)[0],
            opset: all_ints(&opset, 2)[0],
            ops,
            node_io,
            inits,
            inputs: names(11),
            outputs: names(12),
            props,
        }
    }

    fn caf_config(v0: ArchConfig, a: ArchConfig, data: crate::config::DataSpec, classes: usize) -> ModelConfig {
        let mut c = presets::velocity_model(v0.clone(), data, presets::digit_classes(classes), presets::euler(1));
        c.networks = BTreeMap::from([(NetRole::InitialVelocity, v0), (NetRole::Acceleration, a)]);
        c.parameterization = Parameterization::Caf { h: 1.5 };
        c.sampler = SamplerDefaults { solver: Solver::Caf, steps: 1, guidance: 1.0, time_grid: TimeGrid::Uniform };
        c
    }

    /// Structure of every export: SSA (each node's inputs are graph inputs, initializers or
    /// outputs of earlier nodes; no name defined twice), the one output defined, every weight
    /// exported once (initializer scalars = parameter count), the header fields.
    fn check(arch: &ArchConfig, role: NetRole) -> (Parsed, OnnxGraph) {
        let weights = random_weights(arch, role.prefix(), 5);
        let g = export_network(arch, &weights, role, &[("k".into(), "v".into())]).unwrap();
        let p = parse(&g.bytes);
        assert_eq!((p.ir_version, p.opset), (IR_VERSION, OPSET));
        assert_eq!(p.ops.len(), g.nodes);
        assert_eq!(p.inits.len(), g.initializers);
        let mut defined: HashSet<String> = p.inputs.iter().cloned().chain(p.inits.iter().map(|i| i.0.clone())).collect();
        assert_eq!(defined.len(), p.inputs.len() + p.inits.len(), "names defined twice");
        for (k, (ins, outs)) in p.node_io.iter().enumerate() {
            for i in ins {
                assert!(i.is_empty() || defined.contains(i), "node {k} ({}) reads {i:?} before it is defined", p.ops[k]);
            }
            for o in outs {
                assert!(defined.insert(o.clone()), "{o} defined twice");
            }
        }
        assert_eq!(p.outputs, vec![role.prefix().to_string()]);
        assert!(defined.contains(role.prefix()));
        let weight_scalars: usize = p.inits.iter().filter(|(n, _)| n.starts_with(role.prefix())).map(|(_, n)| *n).sum();
        assert_eq!(weight_scalars, arch.num_params());
        assert_eq!(g.params, arch.num_params());
        assert!(p.props.contains(&("k".into(), "v".into())) && p.props.iter().any(|(k, v)| k == "beeline.network" && v == role.prefix()));
        let names: Vec<&str> = g.inputs.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(p.inputs, names);
        (p, g)
    }

    #[test]
    fn onnx_unet_graph_is_well_formed() {
        let mut u = presets::unet(3, 8, 8, &[1, 2], 1, true, 4);
        u.attention_heads = 2;
        let (p, g) = check(&ArchConfig::Unet(u.clone()), NetRole::Velocity);
        assert_eq!(p.inputs, ["x", "t", "y"]);
        assert_eq!(g.inputs[0].shape_text(), "[N, 3, 8, 8]");
        assert_eq!(g.inputs[2].dtype, ElemType::Int64);
        for op in ["Conv", "Gemm", "InstanceNormalization", "Resize", "Softmax", "Gather", "Cos", "Sin", "Split", "MatMul"] {
            assert!(g.ops.contains_key(op), "no {op}: {:?}", g.ops);
        }
        // One Resize per upsampling, one Softmax per attention, GroupNorm per norm.
        let layers = u.layers();
        assert_eq!(g.ops["Resize"], layers.iter().filter(|l| matches!(l, UnetLayer::Up { .. })).count());
        assert_eq!(g.ops["Softmax"], 1);
        let norms = ArchConfig::Unet(u.clone()).params().iter().filter(|s| s.name.ends_with("weight") && s.shape.len() == 1).count();
        assert_eq!(g.ops["InstanceNormalization"], norms);

        u.cond_channels = 3;
        u.num_classes = 0;
        u.attention = false;
        let (p, _) = check(&ArchConfig::Unet(u), NetRole::Acceleration);
        assert_eq!(p.inputs, ["x", "t", "cond"]);
        assert_eq!(p.outputs, ["acceleration"]);
    }

    #[test]
    fn onnx_mlp_graph_is_well_formed() {
        let m = MlpConfig { dim: 2, hidden: 16, depth: 3, time_embed_dim: 8, cond_dim: 0, num_classes: 0 };
        let (p, g) = check(&ArchConfig::Mlp(m.clone()), NetRole::Velocity);
        assert_eq!(p.inputs, ["x", "t"]);
        assert_eq!(g.inputs[0].shape_text(), "[N, 2]");
        assert_eq!(g.ops["Gemm"], 2 + 1 + 3 + 1);
        let (p, _) = check(&ArchConfig::Mlp(MlpConfig { cond_dim: 2, num_classes: 3, ..m }), NetRole::Acceleration);
        assert_eq!(p.inputs, ["x", "t", "y", "cond"]);
    }

    /// The time embedding's frequencies are the CPU's, bit for bit, and stored as float64.
    #[test]
    fn onnx_time_frequencies_are_the_cpus() {
        let arch = ArchConfig::Mlp(presets::mlp(2, 16, 1, 0));
        let w = random_weights(&arch, "velocity", 1);
        let g = export_network(&arch, &w, NetRole::Velocity, &[]).unwrap();
        let m = fields(&g.bytes).unwrap();
        let graph = fields(all_bytes(&m, 7)[0]).unwrap();
        let freq = all_bytes(&graph, 5)
            .into_iter()
            .map(|b| fields(b).unwrap())
            .find(|f| all_ints(f, 2) == [DOUBLE])
            .expect("a float64 constant");
        let raw = all_bytes(&freq, 9)[0];
        let half = 8;
        assert_eq!(all_ints(&freq, 1), [1, half as i64]);
        for i in 0..half {
            let v = f64::from_le_bytes(raw[8 * i..8 * i + 8].try_into().unwrap());
            assert_eq!(v.to_bits(), crate::nn::embed::frequency(i, half).to_bits());
        }
        assert!(matches!(m[0], (1, Value::Varint(8))));
    }

    /// Model-level choices and errors: the default network, CAF's two networks by name, and
    /// clear errors for a missing network, an unknown name, a missing or misshapen weight and a
    /// config that does not validate.
    #[test]
    fn onnx_export_errors_name_the_problem() {
        let m = MlpConfig { dim: 2, hidden: 8, depth: 1, time_embed_dim: 4, cond_dim: 0, num_classes: 0 };
        let v0 = ArchConfig::Mlp(m.clone());
        let a = v0.with_cond(true);
        let config = caf_config(v0.clone(), a.clone(), presets::points2d("toy", 3.0), 0);
        let mut weights = random_weights(&v0, "initial_velocity", 1);
        weights.tensors.extend(random_weights(&a, "acceleration", 2).tensors);
        let file = ModelFile::new(config, weights.clone()).unwrap();
        let e = export_model(&file, None).unwrap_err();
        assert!(matches!(&e, Error::InvalidInput(m) if m.contains("initial_velocity") && m.contains("acceleration") && m.contains("not exported")), "{e}");
        let g = export_model(&file, Some(network_by_name("initial-velocity").unwrap())).unwrap();
        assert_eq!(g.outputs[0].name, "initial_velocity");
        let g = export_model(&file, Some(NetRole::Acceleration)).unwrap();
        assert_eq!(g.inputs.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["x", "t", "cond"]);
        let p = parse(&g.bytes);
        assert!(p.props.iter().any(|(k, v)| k == "beeline.config" && v.contains("\"caf\"")));
        let e = export_model(&file, Some(NetRole::Velocity)).unwrap_err();
        assert!(matches!(&e, Error::InvalidInput(m) if m.contains("no `velocity` network")), "{e}");
        assert!(matches!(network_by_name("sampler"), Err(Error::InvalidInput(_))));

        let mut w = weights.clone();
        w.tensors.remove("acceleration.hidden.0.bias");
        assert!(matches!(export_network(&a, &w, NetRole::Acceleration, &[]), Err(Error::MissingTensor(n)) if n == "acceleration.hidden.0.bias"));
        let mut w = weights;
        w.insert("acceleration.input.weight", vec![8, 3], vec![0.0; 24]).unwrap();
        assert!(matches!(export_network(&a, &w, NetRole::Acceleration, &[]), Err(Error::WrongShape { .. })));
        let bad = ArchConfig::Mlp(MlpConfig { time_embed_dim: 3, ..m });
        assert!(matches!(export_network(&bad, &Weights::default(), NetRole::Velocity, &[]), Err(Error::BadConfig(_))));
    }
}
