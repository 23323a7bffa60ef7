#include "agents/recurrent_core.h"

#include <stdexcept>
#include <utility>
#include <vector>

#include <torch/nn/functional/linear.h>
#include <torch/nn/init.h>
#include <torch/torch.h>

namespace apiary::agents {

RecurrentCoreImpl::RecurrentCoreImpl(std::int64_t in, CoreCell cell, std::int64_t hidden, bool orthogonal)
    : cell_(cell), hidden_(hidden) {
  if (cell == CoreCell::kNone) throw std::invalid_argument("RecurrentCore: no cell (lstm or gru)");
  if (in <= 0 || hidden <= 0)
    throw std::invalid_argument("RecurrentCore: input " + std::to_string(in) + " and hidden " + std::to_string(hidden) +
                                " must be > 0");
  std::vector<torch::Tensor> params;
  if (cell == CoreCell::kLstm) {
    lstm_ = register_module("lstm", torch::nn::LSTMCell(torch::nn::LSTMCellOptions(in, hidden)));
    params = {lstm_->weight_ih, lstm_->weight_hh, lstm_->bias_ih, lstm_->bias_hh};
  } else {
    gru_ = register_module("gru", torch::nn::GRUCell(torch::nn::GRUCellOptions(in, hidden)));
    params = {gru_->weight_ih, gru_->weight_hh, gru_->bias_ih, gru_->bias_hh};
  }
  if (orthogonal) {  // CleanRL's ppo_atari_lstm.py: orthogonal weights (gain 1), zero biases
    torch::NoGradGuard no_grad;
    torch::nn::init::orthogonal_(params[0], 1.0);
    torch::nn::init::orthogonal_(params[1], 1.0);
    params[2].zero_();
    params[3].zero_();
  }
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// a * b, written into `out` (a slice of a larger buffer: taken by value, it still views it).
void mul_into(torch::Tensor out, const torch::Tensor& a, const torch::Tensor& b) { torch::mul_out(out, a, b); }
void tanh_into(torch::Tensor out, const torch::Tensor& a) { torch::tanh_out(out, a); }

// The recurrence of a core over T steps as one autograd node, with its backward written out:
// autograd would record a dozen operators a step (and replay twice as many backwards), and at the
// small widths of control tasks their dispatch, not the arithmetic, is the cost. The input's share of
// the gates (one product for all steps) stays outside, on autograd.
//
// Inputs: gates_x [T * B, G * H] fp32 (x W_ih^T + b_ih), w_hh [G * H, H], b_hh [G * H], state0 [B, S],
// keep [T, B, 1] (1 - starts; empty: no resets). Outputs: h after each step [T * B, H] and the
// state after each step [T, B, S]. The gates are LibTorch's (LSTM: i, f, g, o; GRU: r, z, n) and the
// products run in fp32 whatever autocast says.
struct CoreSequenceFn : torch::autograd::Function<CoreSequenceFn> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& gates_x, const torch::Tensor& w_hh,
                               const torch::Tensor& b_hh, const torch::Tensor& state0, const torch::Tensor& keep_in,
                               std::int64_t steps, std::int64_t bptt, bool lstm) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const torch::Tensor keep = keep_in.numel() > 0 ? keep_in : torch::Tensor();  // empty: no resets
    const std::int64_t lanes = state0.size(0), hidden = w_hh.size(1), gates = w_hh.size(0);
    const torch::Tensor gx = gates_x.view({steps, lanes, gates});
    const torch::Tensor w_t = w_hh.t();
    const auto opts = gates_x.options();
    torch::Tensor acts = torch::empty({steps, lanes, gates}, opts);    // activated gates
    torch::Tensor h_in = torch::empty({steps, lanes, hidden}, opts);   // h entering each step (reset applied)
    torch::Tensor states = torch::empty({steps, lanes, state0.size(1)}, opts);
    torch::Tensor c_in, tanh_c, gh;  // LSTM: c entering each step, tanh of c after it; GRU: W_hh h + b_hh
    if (lstm) {
      c_in = torch::empty({steps, lanes, hidden}, opts);
      tanh_c = torch::empty({steps, lanes, hidden}, opts);
    } else {
      gh = torch::empty({steps, lanes, gates}, opts);
    }
    torch::Tensor h = state0.slice(1, 0, hidden);
    torch::Tensor c = lstm ? state0.slice(1, hidden, 2 * hidden) : torch::Tensor();
    for (std::int64_t t = 0; t < steps; ++t) {
      torch::Tensor hi = h_in[t];
      if (keep.defined()) torch::mul_out(hi, h, keep[t]); else hi.copy_(h);
      torch::Tensor a = acts[t];
      if (lstm) {
        torch::Tensor ci = c_in[t];
        if (keep.defined()) torch::mul_out(ci, c, keep[t]); else ci.copy_(c);
        torch::addmm_out(a, b_hh, hi, w_t).add_(gx[t]);
        a.slice(1, 0, 2 * hidden).sigmoid_();
        a.slice(1, 2 * hidden, 3 * hidden).tanh_();
        a.slice(1, 3 * hidden).sigmoid_();
        torch::Tensor s = states[t];
        torch::Tensor c_next = s.slice(1, hidden, 2 * hidden), h_next = s.slice(1, 0, hidden);
        torch::mul_out(c_next, a.slice(1, hidden, 2 * hidden), ci).addcmul_(a.slice(1, 0, hidden), a.slice(1, 2 * hidden, 3 * hidden));
        tanh_into(tanh_c[t], c_next);
        mul_into(h_next, a.slice(1, 3 * hidden), tanh_c[t]);
        h = h_next, c = c_next;
      } else {
        torch::Tensor g = gh[t];
        torch::addmm_out(g, b_hh, hi, w_t);
        torch::Tensor rz = a.slice(1, 0, 2 * hidden), n = a.slice(1, 2 * hidden);
        torch::add_out(rz, gx[t].slice(1, 0, 2 * hidden), g.slice(1, 0, 2 * hidden)).sigmoid_();
        torch::mul_out(n, a.slice(1, 0, hidden), g.slice(1, 2 * hidden)).add_(gx[t].slice(1, 2 * hidden)).tanh_();
        torch::Tensor h_next = states[t];  // n + z (h_in - n)
        torch::sub_out(h_next, hi, n).mul_(a.slice(1, hidden, 2 * hidden)).add_(n);
        h = h_next;
      }
    }
    ctx->saved_data["acts"] = acts;
    ctx->saved_data["h_in"] = h_in;
    ctx->saved_data["extra1"] = lstm ? c_in : gh;
    ctx->saved_data["extra2"] = lstm ? tanh_c : torch::Tensor();
    ctx->saved_data["keep"] = keep;
    ctx->saved_data["w_hh"] = w_hh.detach();
    ctx->saved_data["steps"] = steps;
    ctx->saved_data["bptt"] = bptt;
    ctx->saved_data["lstm"] = lstm;
    // A copy, not a view of `states`: the node's two outputs must not alias.
    torch::Tensor outputs = states.slice(2, 0, hidden).clone(at::MemoryFormat::Contiguous).view({steps * lanes, hidden});
    return {outputs, states};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const torch::Tensor acts = ctx->saved_data["acts"].toTensor(), h_in = ctx->saved_data["h_in"].toTensor();
    const torch::Tensor extra1 = ctx->saved_data["extra1"].toTensor(), extra2 = ctx->saved_data["extra2"].toTensor();
    const torch::Tensor keep = ctx->saved_data["keep"].toTensor(), w_hh = ctx->saved_data["w_hh"].toTensor();
    const std::int64_t steps = ctx->saved_data["steps"].toInt(), bptt = ctx->saved_data["bptt"].toInt();
    const bool lstm = ctx->saved_data["lstm"].toBool();
    const std::int64_t lanes = acts.size(1), gates = acts.size(2), hidden = h_in.size(2);
    const auto opts = acts.options();
    const torch::Tensor grad_out = grad[0].defined() ? grad[0].view({steps, lanes, hidden}) : torch::Tensor();
    const torch::Tensor& grad_states = grad[1];
    torch::Tensor d_gx = torch::empty({steps, lanes, gates}, opts);         // d(gates_x)
    torch::Tensor d_gh = lstm ? d_gx : torch::empty({steps, lanes, gates}, opts);  // d(W_hh h + b_hh)
    torch::Tensor dh = torch::zeros({lanes, hidden}, opts), dc = lstm ? torch::zeros({lanes, hidden}, opts) : torch::Tensor();
    for (std::int64_t t = steps - 1; t >= 0; --t) {
      torch::Tensor dh_t = dh;
      if (grad_out.defined()) dh_t = dh_t + grad_out[t];
      if (grad_states.defined()) dh_t = dh_t + grad_states[t].slice(1, 0, hidden);
      const torch::Tensor a = acts[t];
      torch::Tensor dg = d_gx[t];
      torch::Tensor dh_in;
      if (lstm) {
        const torch::Tensor i = a.slice(1, 0, hidden), f = a.slice(1, hidden, 2 * hidden);
        const torch::Tensor g = a.slice(1, 2 * hidden, 3 * hidden), o = a.slice(1, 3 * hidden);
        const torch::Tensor tc = extra2[t];
        torch::Tensor dc_t = dc + dh_t * o * (1 - tc * tc);
        if (grad_states.defined()) dc_t = dc_t + grad_states[t].slice(1, hidden, 2 * hidden);
        mul_into(dg.slice(1, 0, hidden), dc_t * g, i * (1 - i));
        mul_into(dg.slice(1, hidden, 2 * hidden), dc_t * extra1[t], f * (1 - f));
        mul_into(dg.slice(1, 2 * hidden, 3 * hidden), dc_t * i, 1 - g * g);
        mul_into(dg.slice(1, 3 * hidden), dh_t * tc, o * (1 - o));
        dh_in = torch::mm(dg, w_hh);
        dc = dc_t * f;
      } else {
        const torch::Tensor r = a.slice(1, 0, hidden), z = a.slice(1, hidden, 2 * hidden), n = a.slice(1, 2 * hidden);
        const torch::Tensor hi = h_in[t];
        const torch::Tensor dn = dh_t * (1 - z) * (1 - n * n);  // through n's tanh
        torch::Tensor dgh = d_gh[t];
        dg.slice(1, 2 * hidden).copy_(dn);
        mul_into(dg.slice(1, 0, hidden), dn * extra1[t].slice(1, 2 * hidden), r * (1 - r));
        mul_into(dg.slice(1, hidden, 2 * hidden), dh_t * (hi - n), z * (1 - z));
        dgh.slice(1, 0, 2 * hidden).copy_(dg.slice(1, 0, 2 * hidden));
        mul_into(dgh.slice(1, 2 * hidden), dn, r);
        dh_in = torch::mm(dgh, w_hh).add_(dh_t * z);
      }
      // The state entering step t was detached there (truncated backpropagation): nothing flows back.
      const bool cut = bptt > 0 && t > 0 && t % bptt == 0;
      if (cut) {
        dh = torch::zeros_like(dh);
        if (lstm) dc = torch::zeros_like(dc);
      } else {
        dh = keep.defined() ? dh_in * keep[t] : dh_in;
        if (lstm && keep.defined()) dc = dc * keep[t];
      }
    }
    const torch::Tensor flat_gh = d_gh.view({steps * lanes, gates});
    const torch::Tensor d_w = torch::mm(flat_gh.t(), h_in.view({steps * lanes, hidden}));
    const torch::Tensor d_b = flat_gh.sum(0);
    const torch::Tensor d_state0 = lstm ? torch::cat({dh, dc}, 1) : dh;
    return {d_gx.view({steps * lanes, gates}), d_w, d_b, d_state0, torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor RecurrentCoreImpl::step(const torch::Tensor& x, const torch::Tensor& state, torch::Tensor& next_state) {
  Recurrence rec;
  rec.state = state;
  rec.final_state = &next_state;
  return sequence(x, rec);
}

torch::Tensor RecurrentCoreImpl::sequence(const torch::Tensor& x, const Recurrence& rec) {
  const std::int64_t steps = rec.steps;
  TORCH_CHECK(rec.state.defined() && rec.state.dim() == 2 && rec.state.size(1) == state_size(),
              "RecurrentCore: the state must be [B, ", state_size(), "], got ",
              rec.state.defined() ? rec.state.sizes() : torch::IntArrayRef{});
  const std::int64_t lanes = rec.state.size(0);
  TORCH_CHECK(steps >= 1 && x.dim() == 2 && x.size(0) == steps * lanes, "RecurrentCore: the input must be [T * B, in] = [",
              steps * lanes, ", in] for T = ", steps, " and B = ", lanes, ", got ", x.sizes());
  const bool lstm = cell_ == CoreCell::kLstm;
  const torch::Tensor& w_ih = lstm ? lstm_->weight_ih : gru_->weight_ih;
  const torch::Tensor& w_hh = lstm ? lstm_->weight_hh : gru_->weight_hh;
  const torch::Tensor& b_ih = lstm ? lstm_->bias_ih : gru_->bias_ih;
  const torch::Tensor& b_hh = lstm ? lstm_->bias_hh : gru_->bias_hh;
  // The input's share of the gates for every step at once (one large product, in reduced precision
  // under autocast); the recurrence itself in fp32.
  const torch::Tensor gates_x = torch::nn::functional::linear(x, w_ih, b_ih).to(torch::kFloat).contiguous();
  // No resets: an empty tensor (a custom function's tensor inputs must be defined in LibTorch 1.13).
  torch::Tensor keep = torch::empty({0}, gates_x.options());
  if (rec.starts.defined()) {
    TORCH_CHECK(rec.starts.numel() == steps * lanes, "RecurrentCore: starts must be [T, B] = [", steps, ", ", lanes,
                "], got ", rec.starts.sizes());
    keep = (1 - rec.starts.to(gates_x.device(), torch::kFloat)).reshape({steps, lanes, 1});
  }
  const variable_list out = CoreSequenceFn::apply(gates_x, w_hh, b_hh, rec.state.to(torch::kFloat).contiguous(), keep,
                                                  steps, rec.bptt_steps, lstm);
  if (rec.final_state != nullptr) *rec.final_state = out[1][steps - 1];
  if (rec.step_states != nullptr) *rec.step_states = out[1];
  return out[0];
}

}  // namespace apiary::agents
