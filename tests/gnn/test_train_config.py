from personagraph.gnn.train_config import GNN_DIM, GNN_MEMORY_BYTES, TEXT_GNN_DIM, TrainConfig, default_dim


def test_the_gnn_width_follows_the_items_text_and_the_shops_size():
    largest_wide = GNN_MEMORY_BYTES // (4 * TEXT_GNN_DIM)
    assert largest_wide == 524_288  # the number the train command's help text gives
    assert default_dim(10, item_text=True) == default_dim(largest_wide, item_text=True) == TEXT_GNN_DIM == 128
    assert default_dim(largest_wide + 1, item_text=True) == default_dim(10, item_text=False) == GNN_DIM == 64


def test_a_config_round_trips_with_its_width_open():
    config = TrainConfig(seed=3)
    assert config.dim is None and TrainConfig.from_dict(config.to_dict()) == config
