//! The warning a customer gets when a secret was masked from a message of
//! theirs: a notice in the conversation, in its language, so the agent sees
//! it too (the masked text itself says what kind it was).

use super::{Hub, Role, SessionEntry};
use crate::domain::SessionId;

/// The warning, by routing language; English for any other.
pub(super) fn warning(language: &str) -> &'static str {
    match language {
        "zh" => {
            "为了您的安全，我们已从聊天中隐藏了您发送的机密信息（助记词、私钥或双重验证码）。客服绝不会索要这些信息。任何拿到它们的人都能转走您的资产：如果您在别处泄露过，请立即把资产转到新钱包并重新设置双重验证。"
        }
        "ru" => {
            "Ради вашей безопасности мы скрыли из чата секретные данные, которые вы отправили (сид-фразу, приватный ключ или коды 2FA). Поддержка никогда их не запрашивает. Тот, у кого они есть, может забрать ваши средства: если вы сообщили их где-то ещё, немедленно переведите средства на новый кошелёк и перенастройте 2FA."
        }
        "es" => {
            "Por tu seguridad, hemos ocultado del chat un dato secreto que enviaste (frase semilla, clave privada o códigos 2FA). El soporte nunca te los pedirá. Quien los tenga puede llevarse tus fondos: si los compartiste en otro lugar, mueve tus fondos a una billetera nueva ahora y vuelve a configurar tu 2FA."
        }
        "tr" => {
            "Güvenliğiniz için gönderdiğiniz gizli bilgiyi (kurtarma ifadesi, özel anahtar veya 2FA kodları) sohbetten gizledik. Destek ekibi bunları asla istemez. Bunlara sahip olan herkes fonlarınızı alabilir: başka bir yerde paylaştıysanız fonlarınızı hemen yeni bir cüzdana taşıyın ve 2FA'nızı yeniden kurun."
        }
        "vi" => {
            "Vì an toàn của bạn, chúng tôi đã ẩn khỏi cuộc trò chuyện thông tin bí mật bạn gửi (cụm từ khôi phục, khóa riêng tư hoặc mã 2FA). Bộ phận hỗ trợ không bao giờ yêu cầu những thông tin này. Ai có chúng đều có thể lấy tiền của bạn: nếu bạn đã chia sẻ ở nơi khác, hãy chuyển tiền sang ví mới ngay và thiết lập lại 2FA."
        }
        "ar" => {
            "حفاظًا على أمانك، أخفينا من المحادثة معلومة سرية أرسلتها (عبارة الاسترداد أو المفتاح الخاص أو رموز المصادقة الثنائية). لن يطلبها فريق الدعم منك أبدًا. من يملكها يستطيع الاستيلاء على أموالك: إن كنت شاركتها في مكان آخر فانقل أموالك إلى محفظة جديدة الآن وأعد إعداد المصادقة الثنائية."
        }
        _ => {
            "For your safety, we hid a secret you sent (a seed phrase, private key or 2FA codes) from this chat. Support will never ask for these. Anyone who has them can take your funds: if you shared it anywhere else, move your funds to a new wallet now and set up your 2FA again."
        }
    }
}

impl Hub {
    /// A message of this customer session's had a secret masked: warn the
    /// customer in its open conversation (a `leave_message` that ended it
    /// as a ticket leaves none: the mask is all there is then).
    pub(super) fn warn_of_secrets(&mut self, session: SessionId) {
        let Some(SessionEntry {
            role: Role::Customer(key),
            ..
        }) = self.sessions.get(&session)
        else {
            return;
        };
        let Some(id) = self.customers.get(key).and_then(|c| c.open) else {
            return;
        };
        let language = self
            .router
            .spec(&id)
            .map_or_else(String::new, |spec| spec.language.to_string());
        self.notice(id, warning(&language));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_widget_language_has_its_warning() {
        let english = warning("en");
        for language in ["zh", "ru", "es", "tr", "vi", "ar"] {
            assert_ne!(warning(language), english, "{language}");
        }
        assert_eq!(warning("pt"), english);
    }
}
