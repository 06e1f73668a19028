"""QCD-aware recursive neural network on the jet's clustering tree (Louppe, Cho, Becot, Cranmer, arXiv:1702.00748).

Every node k of a jet's binary clustering tree (:mod:`ml4hep.toptag.trees`) gets an embedding h_k, bottom-up:
the node's own features o_k (the constituent features of its four-momentum) are projected to
u_k = ReLU(W_u o_k + b_u); a leaf's embedding is u_k, and a merged node with children L and R (the harder first):

* ``simple``: h_k = ReLU(W_h [h_L; h_R; u_k] + b_h);
* ``gated`` (the paper's section 3.2, a GRU-like cell): reset gates [r_L; r_R; r_N] = sigmoid(W_r [h_L; h_R; u_k]
  + b_r), a candidate ĥ_k = ReLU(W_h [r_L ⊙ h_L; r_R ⊙ h_R; r_N ⊙ u_k] + b_h), and update weights [z_H; z_L; z_R;
  z_N] = softmax over the four of W_z [ĥ_k; h_L; h_R; u_k] + b_z (per component), h_k = z_H ⊙ ĥ_k + z_L ⊙ h_L +
  z_R ⊙ h_R + z_N ⊙ u_k.

The root's embedding goes through a small ReLU network to the logit. The cell is shared by all nodes. The node
features are standardised first with the mean and spread of the training split's nodes (the paper scales them too:
log pT and log E are ~5 where the angles are ~0.1).

Batching: the nodes of all jets of a batch are grouped by their height above the leaves (``tree_level``) and each
level is one call of the cell on all its nodes (one matrix product per level), the children's embeddings gathered
from the levels below; a batch costs as many sequential steps as its deepest tree (a kT or C/A tree of 32
constituents is ~8-14 levels deep, an anti-kT one ~15-30: anti-kT adds the soft constituents one by one). The
number of levels is data-dependent, which the ONNX tracer cannot record, so while tracing the same recursion runs
over the N - 1 mergings in merge order instead (a fixed number of steps, each one merging of every jet; children
always precede their parent), which gives the same embeddings (:meth:`RecursiveTreeNetwork.forward`).

Called as ``model(x, mask, tree_x, tree_children, tree_level)`` (the columns of the feature files, all float as
the streamed batches and ONNX inputs are): ``x`` (B, N, F) leaves, ``mask`` (B, N), ``tree_x`` (B, N-1, F) merged
nodes, ``tree_children`` (B, N-1, 2) child slots (0 .. N-1 leaves, N + k the k-th merging; -1 padding),
``tree_level`` (B, N-1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ml4hep.models.standardiser import Standardiser
from ml4hep.toptag.preprocess import CONSTITUENT_FEATURES

VARIANTS = ("simple", "gated")
"""The node cells of arXiv:1702.00748."""


class _Cell(nn.Module):
    """A node cell: the embeddings (M, d) of M merged nodes from [h_L; h_R; u] (M, 3d), in :meth:`embed`."""

    def forward(self, left: torch.Tensor, right: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        """Embeddings (M, d) of M merged nodes from their children's and their own projections."""
        return self.embed(torch.cat([left, right, own], dim=-1))

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """The cell's function of the concatenated inputs."""
        raise NotImplementedError


class _SimpleCell(_Cell):
    """h = ReLU(W_h [h_L; h_R; u] + b_h)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.combine = nn.Linear(3 * width, width)

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """ReLU of one linear layer."""
        return torch.relu(self.combine(inputs))


class _GatedCell(_Cell):
    """The gated cell of arXiv:1702.00748 (reset gates on the inputs, softmax update weights over four terms)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.reset = nn.Linear(3 * width, 3 * width)
        self.candidate = nn.Linear(3 * width, width)
        self.update = nn.Linear(4 * width, 4 * width)

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """The update-weighted sum of the candidate, h_L, h_R and u."""
        candidate = torch.relu(self.candidate(torch.sigmoid(self.reset(inputs)) * inputs))
        terms = torch.cat([candidate, inputs], dim=-1)  # [ĥ; h_L; h_R; u], (M, 4d)
        weights = torch.softmax(self.update(terms).view(-1, 4, self.width), dim=1)
        return (weights * terms.view(-1, 4, self.width)).sum(1)


class RecursiveTreeNetwork(nn.Module):
    """Recursive network on the clustering tree, batched level by level (see the module docstring).

    Args:
        n_features: Features per node.
        variant: ``simple`` or ``gated``.
        embedding: Width of the node embeddings (u_k and h_k).
        fc_sizes: Widths of the hidden layers of the classifier on the root embedding.
        dropout: Dropout after each hidden layer of the classifier.

    Example:
        >>> import torch
        >>> net = RecursiveTreeNetwork(n_features=2, embedding=4)
        >>> x, mask = torch.ones(1, 2, 2), torch.ones(1, 2)  # two leaves, merged once into slot 2
        >>> net(x, mask, torch.ones(1, 1, 2), torch.tensor([[[0.0, 1.0]]]), torch.ones(1, 1)).shape
        torch.Size([1])
    """

    def __init__(
        self,
        n_features: int = len(CONSTITUENT_FEATURES),
        variant: str = "gated",
        embedding: int = 32,
        fc_sizes: Sequence[int] = (32,),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown recursive-network variant {variant!r}; known: {', '.join(VARIANTS)}")
        width = int(embedding)
        self.width = width
        self.standardise = Standardiser(int(n_features))  # fitted on the training nodes (the tagger's prepare)
        self.project = nn.Linear(int(n_features), width)
        self.cell = _SimpleCell(width) if variant == "simple" else _GatedCell(width)
        layers: list[nn.Module] = []
        for size in fc_sizes:
            layers += [nn.Linear(width, int(size)), nn.ReLU(), nn.Dropout(dropout)]
            width = int(size)
        self.head = nn.Sequential(*layers, nn.Linear(width, 1))

    def node_embeddings(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        tree_x: torch.Tensor,
        tree_children: torch.Tensor,
        tree_level: torch.Tensor,
    ) -> torch.Tensor:
        """Embeddings (B, 2N-1, d) of every node slot (padding slots hold their projection u_k)."""
        own = torch.relu(self.project(self.standardise(torch.cat([x, tree_x], dim=1))))  # u_k per slot (B, 2N-1, d)
        children = tree_children.long().clamp_min(0)
        if torch.jit.is_tracing():
            return self._by_merging(own, children, tree_level)
        return self._by_level(own, children, tree_level.long())

    def _by_level(self, own: torch.Tensor, children: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """One cell call per tree level for the nodes of every jet at that level."""
        batch, slots, width = own.shape
        steps = children.shape[1]
        leaves = slots - steps
        flat_own = own.reshape(batch * slots, width)
        embedded = flat_own.clone()  # leaves keep u_k; merged slots are overwritten level by level
        base = torch.arange(batch, device=own.device).unsqueeze(1) * slots  # (B, 1)
        flat_level = level.reshape(-1)
        order = torch.argsort(flat_level, stable=True)
        counts = torch.bincount(flat_level, minlength=1).tolist()
        start = counts[0]  # level 0: padding mergings
        for count in counts[1:]:
            merging = order[start : start + count]
            start += count
            jet, step = merging // steps, merging % steps
            node = base[jet, 0] + leaves + step
            left = base[jet, 0] + children[jet, step, 0]
            right = base[jet, 0] + children[jet, step, 1]
            new = self.cell(embedded.index_select(0, left), embedded.index_select(0, right), flat_own[node])
            embedded.index_copy_(0, node, new)  # in place: the gathers above keep only their indices
        return embedded.view(batch, slots, width)

    def _by_merging(self, own: torch.Tensor, children: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """The same recursion in merge order: a fixed number of steps (for the ONNX tracer).

        Padding mergings (level 0) keep their projection, as in :meth:`_by_level`.
        """
        real = (level > 0).unsqueeze(-1)  # (B, N-1, 1)
        batch, slots, width = own.shape
        steps = children.shape[1]
        leaves = slots - steps
        embedded = own
        for step in range(steps):
            index = children[:, step, :].unsqueeze(-1).expand(-1, -1, width)  # (B, 2, d)
            pair = torch.gather(embedded, 1, index)
            new = torch.where(
                real[:, step], self.cell(pair[:, 0], pair[:, 1], own[:, leaves + step]), own[:, leaves + step]
            )
            embedded = torch.cat([embedded[:, : leaves + step], new.unsqueeze(1), embedded[:, leaves + step + 1 :]], 1)
        return embedded

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        tree_x: torch.Tensor,
        tree_children: torch.Tensor,
        tree_level: torch.Tensor,
    ) -> torch.Tensor:
        """Logits of shape (B,) from the root embedding of every jet's tree."""
        embedded = self.node_embeddings(x, mask, tree_x, tree_children, tree_level)
        n = mask.sum(1).long()
        leaves = x.shape[1]
        root = torch.where(n >= 2, leaves + n - 2, torch.zeros_like(n))  # a lone constituent is its own root
        index = root.view(-1, 1, 1).expand(-1, 1, self.width)
        return self.head(torch.gather(embedded, 1, index).squeeze(1)).squeeze(-1)
