//! The UNet's middle self-attention (`mid.attn`).

use super::resblock::group_norm;
use burn::module::Module;
use burn::nn::{GroupNorm, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

/// Multi-head self-attention over the `L = H·W` pixels, exactly the reference's:
///
/// ```text
/// [q | k | v] = qkv(norm(x))          per pixel; q, k, v are channel blocks 0..C, C..2C, 2C..3C
/// head j uses channels j·d .. (j+1)·d of q, k and v        (d = C / heads)
/// o_j = softmax(q_j·k_jᵀ / √d) · v_j  (softmax over the keys)
/// y = x + proj(o)
/// ```
///
/// `qkv` and `proj` are linears over the channel axis (Beeline stores them as linears,
/// `[3C, C]` and `[C, C]`, i.e. 1×1 convolutions without the trailing 1×1).
#[derive(Module, Debug)]
pub struct Attention {
    /// `mid.attn.norm` (GroupNorm, no activation).
    pub norm: GroupNorm,
    /// `mid.attn.qkv`: C → 3C.
    pub qkv: Linear,
    /// `mid.attn.proj`: C → C.
    pub proj: Linear,
    /// Number of heads (divides C).
    pub heads: usize,
}

impl Attention {
    /// Fresh layers.
    pub fn new(ch: usize, heads: usize, groups: usize, device: &Device) -> Self {
        Attention {
            norm: group_norm(groups, ch, device),
            qkv: LinearConfig::new(ch, 3 * ch).init(device),
            proj: LinearConfig::new(ch, ch).init(device),
            heads,
        }
    }

    /// `x` `[B, C, H, W]` → `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let (l, heads) = (h * w, self.heads);
        let d = c / heads;
        // [B, C, H, W] → [B, L, C]: one row of channels per pixel.
        let seq = self.norm.forward(x.clone()).reshape([b, c, l]).swap_dims(1, 2);
        let qkv = self.qkv.forward(seq); // [B, L, 3C]
        // Channel block `part` (0 = q, 1 = k, 2 = v) split into heads: [B, heads, L, d].
        let split = |part: usize| qkv.clone().narrow(2, part * c, c).reshape([b, l, heads, d]).swap_dims(1, 2);
        let (q, k, v) = (split(0), split(1), split(2));
        let scores = q.matmul(k.swap_dims(2, 3)) * (1.0 / (d as f32).sqrt()); // [B, heads, L, L]
        let o = softmax(scores, 3).matmul(v); // [B, heads, L, d]
        let o = o.swap_dims(1, 2).reshape([b, l, c]); // head j → channels j·d..(j+1)·d
        let y = self.proj.forward(o).swap_dims(1, 2).reshape([b, c, h, w]);
        x + y
    }
}
