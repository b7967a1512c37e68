"""A plain multi-layer perceptron, the scorer head of every kgqa model."""

from __future__ import annotations

from torch import Tensor, nn


class MLP(nn.Module):
    r"""Feed-forward network with optional layer norm between layers.

    As QA-GNN's final ``MLP`` (Yasunaga et al., NAACL 2021) and KagNet's scorer: for
    ``num_layers`` :math:`= L`,

    .. math::
        \mathbf{h}^{(0)} = \mathbf{x}, \qquad
        \mathbf{h}^{(l)} = \mathrm{Dropout}\big(\sigma(\mathrm{LN}(\mathbf{W}_l \mathbf{h}^{(l-1)}
        + \mathbf{b}_l))\big) \quad (l < L), \qquad
        \mathbf{y} = \mathbf{W}_L \mathbf{h}^{(L-1)} + \mathbf{b}_L

    with :math:`\sigma` = GELU. ``num_layers = 1`` is a single linear map.

    Args:
        in_channels: input size :math:`F_{in}`.
        hidden_channels: size of every hidden layer.
        out_channels: output size :math:`F_{out}`.
        num_layers: number of linear maps (>= 1).
        dropout: dropout after every hidden activation.
        layer_norm: apply ``LayerNorm`` before each hidden activation.

    Shapes:
        - **input:** :math:`(*, F_{in})`
        - **output:** :math:`(*, F_{out})`
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, *,
                 num_layers: int = 2, dropout: float = 0.0, layer_norm: bool = False):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"MLP needs num_layers >= 1, got {num_layers}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        layers: list[nn.Module] = []
        width = in_channels
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(width, hidden_channels))
            if layer_norm:
                layers.append(nn.LayerNorm(hidden_channels))
            layers.append(nn.GELU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden_channels
        layers.append(nn.Linear(width, out_channels))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}"

