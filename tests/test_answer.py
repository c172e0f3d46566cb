import numpy as np

from qa.answer import defines, in_context


def test_a_unit_is_read_with_the_unit_before_it_in_its_passage(fake_assistant):
    index = fake_assistant.index
    vectors = in_context(index, weight=0.5)
    assert vectors.shape == index.unit_vectors.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    ids = next(ids for ids in index.unit_ids if len(ids) > 1)
    first, second = ids[0], ids[1]
    blended = index.unit_vectors[second] + 0.5 * index.unit_vectors[first]
    assert np.allclose(vectors[second], blended / np.linalg.norm(blended), atol=1e-5)


def test_a_unit_that_opens_its_section_keeps_its_own_vector(fake_assistant):
    index = fake_assistant.index
    vectors = in_context(index)
    later = {uid for ids in index.unit_ids for uid in ids[1:]}
    openers = [ids[0] for ids in index.unit_ids if ids[0] not in later]
    assert openers
    for uid in openers:
        assert np.allclose(vectors[uid], index.unit_vectors[uid], atol=1e-6)


def test_a_definition_opens_with_the_term_or_names_it():
    assert defines("Vertebroplasty. In this outpatient procedure, bone cement is injected.", "vertebroplasty")
    assert defines("Hypercalcemia is too much calcium in the blood.", "hypercalcemia")
    assert defines("Your doctor may suggest a bone density test—called a DEXA scan.", "dexa scan")
    assert not defines("If this occurs, vertebroplasty may be used to support them.", "vertebroplasty")
    assert not defines("The DEXA scan test gives your bone density as a score.", "dexa scan")
