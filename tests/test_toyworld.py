"""The synthetic world, its grammar and the shipped scorer that reads its images."""

import dataclasses
import random

import numpy as np
import pytest

from sdtutorial import scorer, toyworld


def test_samples_are_the_same_every_time():
    first, second = toyworld.sample(12345), toyworld.sample(12345)
    assert first[:2] == second[:2]
    assert np.array_equal(np.asarray(first[2]), np.asarray(second[2]))
    assert first[2].size == (64, 64) and first[0] != toyworld.sample(12346)[0]


def test_held_out_pairs_never_appear_in_training_scenes():
    pairs = {(s.color, s.shape) for s in (toyworld.random_scene(random.Random(i)) for i in range(2000))}
    assert not pairs & set(toyworld.HELD_OUT_PAIRS)
    assert len(pairs) == 6 * 4 - len(toyworld.HELD_OUT_PAIRS)
    only = {(s.color, s.shape) for s in (toyworld.random_scene(random.Random(i), "only") for i in range(200))}
    assert only == set(toyworld.HELD_OUT_PAIRS)


def test_prompts_are_read_back_as_the_scene_they_describe():
    named = 0
    for seed in range(1000):
        scene, caption, _ = toyworld.sample(seed)
        asked = toyworld.prompt_attributes(caption)
        assert asked["shape"] == scene.shape
        assert all(getattr(scene, name) == value for name, value in asked.items()), caption
        named += len(asked)
    assert 3000 < named < 5000  # captions name a random part of the scene, 4 attributes on average


def test_prompt_attributes_ignore_words_outside_the_grammar():
    assert toyworld.prompt_attributes("portrait photo of a old warrior chief") == {}
    assert toyworld.prompt_attributes("A huge BLUE star, top left? on pink, very sharp") == {
        "size": "large", "color": "blue", "shape": "star", "background": "pink"}


def test_the_scorer_reads_real_synthetic_images():
    samples = [toyworld.sample(seed, held_out="include") for seed in range(2_000_000_000, 2_000_000_064)]
    seen = scorer.read([image for _, _, image in samples])
    for (scene, _, _), attributes in zip(samples, seen, strict=True):
        assert attributes == scene.attributes()
    captions = [caption for _, caption, _ in samples]
    assert scorer.adherence([image for _, _, image in samples], captions) == [1.0] * len(samples)


def test_adherence_counts_the_attributes_a_prompt_gets_wrong():
    scene = toyworld.Scene("star", "orange", "black", "large", "center")
    image = toyworld.draw(scene)
    prompts = ["a large orange star in the center on black", "a small orange star in the center on black",
               "a small purple star in the top left corner on black", "an old warrior chief"]
    assert scorer.adherence([image] * 4, prompts) == [1.0, 0.8, 0.4, 1.0]
    with pytest.raises(ValueError, match="one prompt per image, got 1 images and 2 prompts"):
        scorer.adherence([image], prompts[:2])


def test_clean_score_separates_clean_from_degraded_images():
    clean = toyworld.Scene("circle", "green", "white", "large", "center")
    degraded = [toyworld.draw(dataclasses.replace(clean, degradation=d))
                for d in ("blur", "noise", "low contrast")]
    clean_score, *degraded_scores = scorer.clean_score([toyworld.draw(clean), *degraded])
    assert clean_score > 0.9 and max(degraded_scores) < 0.1


def test_degradation_captions_name_only_their_scenes_degradation():
    rng = random.Random(0)
    for degradation, synonyms in toyworld.DEGRADATIONS.items():
        scene = toyworld.Scene("star", "red", "white", "small", "center", degradation)
        if degradation == "clean":
            with pytest.raises(ValueError, match="no degradation"):
                toyworld.degradation_caption(scene, rng)
            continue
        captions = {toyworld.degradation_caption(scene, rng) for _ in range(50)}
        assert all(set(caption.split(", ")) <= set(synonyms) for caption in captions), captions
        assert all(toyworld.prompt_attributes(caption) == {} for caption in captions)
        assert len(captions) > 1
