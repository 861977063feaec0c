from personagraph.profiles.segment_names import segment_names


def test_names_join_the_top_two_tags_capitalised():
    assert segment_names([["Drills", "sanding", "Makita"], ["Hoses", "Garden"]]) == [
        "Drills · Sanding",
        "Hoses · Garden",
    ]


def test_names_stay_unique():
    names = segment_names([["Drills", "Saws", "Koda"], ["Drills", "Saws", "Hartwell"], ["Drills", "Saws", "Koda"], []])
    assert names == ["Drills · Saws", "Drills · Saws · Hartwell", "Drills · Saws · Koda", "Segment 4"]
    assert segment_names([["Drills", "Saws"]] * 2) == ["Drills · Saws", "Drills · Saws (2)"]
    assert len(set(names)) == len(names)


def test_tags_repeating_words_collapse_to_the_most_specific():
    assert segment_names([["mat", "yoga", "Yoga Mats", "Fitness"]]) == ["Yoga Mats · Fitness"]
    assert segment_names([["Drills", "drill bits", "Saws"]]) == ["Drill bits · Saws"]
    assert segment_names([["Power Tools", "Power Drills", "Saws"]]) == ["Power Tools · Saws"]  # partial overlap


def test_a_single_tag_and_a_label_that_looks_like_a_fallback():
    assert segment_names([["Drills"], ["Drills"], ["Segment 3"], []]) == [
        "Drills", "Drills (2)", "Segment 3", "Segment 4",
    ]
