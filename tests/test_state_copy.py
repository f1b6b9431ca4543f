import torch
from torch import nn

from skdisent.engine.state_copy import FlatStateCopy


def _trained_pieces():
    torch.manual_seed(0)
    network = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    optimizer = torch.optim.Adam(network.parameters())
    network(torch.randn(8, 3)).sum().backward()
    optimizer.step()
    return network, optimizer


def _state(network, optimizer):
    return {"network": network.state_dict(), "optimizer": optimizer.state_dict()}


def _flat_tensors(structure):
    if isinstance(structure, torch.Tensor):
        return [structure]
    values = structure.values() if isinstance(structure, dict) else structure
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        return []
    return [t for value in values for t in _flat_tensors(value)]


def test_copy_has_the_values_and_shares_no_memory_with_the_source():
    network, optimizer = _trained_pieces()
    copy = FlatStateCopy().update(_state(network, optimizer))
    source = _flat_tensors(_state(network, optimizer))
    copied = _flat_tensors(copy)
    assert len(source) == len(copied) > 6
    for original, duplicate in zip(source, copied):
        assert torch.equal(original, duplicate)
        assert original.dtype == duplicate.dtype and original.shape == duplicate.shape
        assert original.untyped_storage().data_ptr() != duplicate.untyped_storage().data_ptr()
    assert copy["optimizer"]["param_groups"] == optimizer.state_dict()["param_groups"]


def test_copy_does_not_follow_later_training_and_restores_it():
    network, optimizer = _trained_pieces()
    before = {k: v.clone() for k, v in network.state_dict().items()}
    copy = FlatStateCopy().update(_state(network, optimizer))
    network(torch.randn(8, 3)).sum().backward()
    optimizer.step()
    assert not torch.equal(network[0].weight, before["0.weight"])
    network.load_state_dict(copy["network"])
    optimizer.load_state_dict(copy["optimizer"])
    for key, value in network.state_dict().items():
        assert torch.equal(value, before[key])


def test_update_rewrites_the_same_buffers_and_follows_a_new_structure():
    network, optimizer = _trained_pieces()
    copier = FlatStateCopy()
    first = copier.update(_state(network, optimizer))
    pointers = [t.data_ptr() for t in _flat_tensors(first)]
    with torch.no_grad():
        network[0].weight.add_(1.0)
    second = copier.update(_state(network, optimizer))
    assert [t.data_ptr() for t in _flat_tensors(second)] == pointers
    assert torch.equal(second["network"]["0.weight"], network[0].weight)

    other = nn.Linear(5, 5).state_dict()
    third = copier.update(other)
    assert torch.equal(third["weight"], other["weight"])
    assert second["network"]["0.weight"].data_ptr() == pointers[0]


def test_state_dict_metadata_is_kept():
    network, _ = _trained_pieces()
    copy = FlatStateCopy().update(network.state_dict())
    assert copy._metadata == network.state_dict()._metadata
    nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).load_state_dict(copy)


def test_copies_keep_the_strides_of_their_sources():
    # Fused optimisers pair a weight and its moments element by element in memory.
    channels_last = torch.randn(4, 3, 5, 5).contiguous(memory_format=torch.channels_last)
    transposed = torch.randn(3, 4).t()
    strided = torch.randn(6, 4)[:, :2]
    copy = FlatStateCopy().update([channels_last, transposed, strided])
    for source, duplicate in zip([channels_last, transposed, strided], copy):
        assert duplicate.stride() == source.stride()
        assert torch.equal(duplicate, source)
