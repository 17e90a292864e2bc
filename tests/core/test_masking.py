from gridcare.core.masking import mask_address, mask_id_number, mask_name, mask_phone


def test_masks_follow_common_chinese_practice():
    assert mask_name("张三") == "张*"
    assert mask_name("张小三") == "张*三"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("110101199003071234") == "110***********1234"
    assert mask_address("广州市番禺区市桥街1号") == "广州市番禺区****"
